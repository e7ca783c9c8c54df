package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/protocol/rtmpt"
)

// netClient is a NetConnection client over either transport.
type netClient interface {
	CreateStream() (uint32, error)
	Publish(streamID uint32, name, kind string) error
	Play(streamID uint32, name string, start float64) error
	Call(name string, args ...any) (protocol.Command, error)
	ReadMessage() (protocol.Message, error)
	WriteMessage(m protocol.Message) error
	DecodeCommand(m protocol.Message) (protocol.Command, error)
	Info() amf.Object
	ServerProperties() amf.Object
	Close() error
}

// dialURL connects to an rtmp://, rtmpe://, rtmpt:// or rtmfp:// URL and returns
// the client
// and the URL's stream name.
func dialURL(ctx context.Context, rawURL, flashVer string, digest bool) (netClient, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("bad URL %q: %w", rawURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch u.Scheme {
	case "rtmp", "rtmpe":
		ru, err := rtmp.ParseURL(rawURL)
		if err != nil {
			return nil, "", err
		}
		c, err := rtmp.Dial(ctx, rawURL, rtmp.ClientConfig{Digest: digest, FlashVer: flashVer})
		if err != nil {
			return nil, "", err
		}
		return c, ru.Stream, nil
	case "rtmpt":
		// RTMP through an RTMPT session (port 80 unless named).
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
		ru, err := rtmp.ParseURL("rtmp://" + host + strings.TrimPrefix(rawURL, "rtmpt://"+u.Host))
		if err != nil {
			return nil, "", err
		}
		ru.TCURL = "rtmpt://" + host + "/" + ru.App
		nc, err := rtmpt.Dial(ctx, host)
		if err != nil {
			return nil, "", err
		}
		c, err := rtmp.NewClient(ctx, nc, ru, rtmp.ClientConfig{Digest: digest, FlashVer: flashVer})
		if err != nil {
			_ = nc.Close()
			return nil, "", err
		}
		return c, ru.Stream, nil
	case "rtmfp":
		_, stream := tc.SplitURL(u)
		c, err := tc.Dial(ctx, rawURL, tc.ClientConfig{FlashVer: flashVer})
		if err != nil {
			return nil, "", err
		}
		return c, stream, nil
	}
	return nil, "", fmt.Errorf("URL %q: scheme must be rtmp, rtmpe, rtmpt or rtmfp", rawURL)
}
