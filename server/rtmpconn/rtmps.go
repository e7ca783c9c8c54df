package rtmpconn

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/nimbus-media/nimbus/server/config"
)

// ListenRTMPS opens the RTMPS listener: plain RTMP inside TLS, served by the
// same connection handler. The TLS handshake runs on the connection's first
// read, under the RTMP handshake deadline.
func ListenRTMPS(cfg config.RTMPSConfig) (net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("rtmps: load certificate: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("rtmps listen: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}
