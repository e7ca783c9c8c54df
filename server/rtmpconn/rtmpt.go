package rtmpconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmpt"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// RTMPT is the RTMPT listener: an HTTP server whose sessions
// (protocol/rtmpt) are served as RTMP connections, like RTMPS ones off
// the direct-socket path: their writes go to a sender goroutine and their
// readers never park.
type RTMPT struct {
	ln      net.Listener
	handler *rtmpt.Handler
	http    *http.Server
}

// RTMPTOptional reports whether failing to open the RTMPT listener may be
// logged rather than stop the server: only for the built-in address (port
// 80, which a user without privileges, or a host with a web server, cannot
// have) and only for those two causes. RTMPT is Flash's fallback; a
// server that cannot offer it still serves RTMP and RTMFP, so that
// `nimbus serve` with the built-in configuration starts anywhere. An
// address the operator chose fails as any listener does.
func RTMPTOptional(addr string, err error) bool {
	return addr == config.Defaults().RTMPT.Listen && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EADDRINUSE))
}

// ListenRTMPT opens the RTMPT listener; open admits each new session and
// serves it as an RTMP connection, and handshakeTimeout
// (rtmp.handshake_timeout) bounds the reading of a request's header.
// Binding fails on port 80 without privileges, the default address: the
// error says what to do about it.
func ListenRTMPT(cfg config.RTMPTConfig, handshakeTimeout time.Duration, open func(*rtmpt.Conn) error, log *zap.Logger) (*RTMPT, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	switch {
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("rtmpt listen %s: %w (a port below 1024 needs root or CAP_NET_BIND_SERVICE; "+
			"set [rtmpt] listen to another address, or to \"\" or -rtmpt \"\" to turn RTMPT off)", cfg.Listen, err)
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("rtmpt listen %s: %w (another program, a web server perhaps, holds the port; "+
			"set [rtmpt] listen to another address, or to \"\" or -rtmpt \"\" to turn RTMPT off)", cfg.Listen, err)
	case err != nil:
		return nil, fmt.Errorf("rtmpt listen %s: %w", cfg.Listen, err)
	}
	log = log.Named("rtmpt")
	h := rtmpt.NewHandler(rtmpt.Config{
		MaxSessions: cfg.MaxSessions,
		IdleTimeout: cfg.IdleTimeout.Duration,
		BufferBytes: cfg.BufferBytes,
		Open:        open,
		Log:         log,
	})
	timeout := cfg.IdleTimeout.Duration
	return &RTMPT{ln: ln, handler: h, http: &http.Server{
		Handler: h,
		// Every read has a deadline: a slow or silent client loses its
		// HTTP connection, and its session then times out.
		ReadHeaderTimeout: handshakeTimeout,
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(log),
	}}, nil
}

// Addr is the bound address.
func (t *RTMPT) Addr() net.Addr { return t.ln.Addr() }

// Sessions is the number of open sessions, for monitoring.
func (t *RTMPT) Sessions() int { return t.handler.Sessions() }

// Close closes the listener of an RTMPT that never served.
func (t *RTMPT) Close() error { return t.ln.Close() }

// Serve runs the HTTP server until Stop; the returned channel reports
// how it ended (nil once stopped).
func (t *RTMPT) Serve() <-chan error {
	done := make(chan error, 1)
	go func() {
		err := t.http.Serve(t.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("rtmpt serve: %w", err)
		}
		done <- err
	}()
	return done
}

// Refuse stops new sessions; those open go on until their connections end.
func (t *RTMPT) Refuse() { t.handler.Drain() }

// Stop closes the HTTP server once the RTMP connections are gone, and the
// sessions with it, after giving the clients up to a second to collect
// what their sessions still hold (their AppShutdown).
func (t *RTMPT) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t.handler.Flush(ctx)
	t.handler.Close(netconn.ErrShutdown)
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := t.http.Shutdown(ctx); err != nil {
		_ = t.http.Close()
	}
}
