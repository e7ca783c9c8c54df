package httpflv

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// What a client born of an HTTP request (an HTTP-FLV or WebSocket-FLV
// player here, a WHEP viewer or WHIP publisher in package webrtc) shares:
// it plays connect, createStream and play or publish to the core on the
// request's behalf, and the core's refusals become HTTP answers.

// Answer is how the NetConnection layer's replies to the synthesized
// commands end a request that does not start playing (or publishing): an
// HTTP status and the reason, which goes in the body and the close log
// line.
type Answer struct {
	Status int
	Text   string
}

func (a *Answer) Error() string { return fmt.Sprintf("%d %s", a.Status, a.Text) }

// RemoteAddr is the client's address, from the connection the playback
// listener stored in the request's context.
func RemoteAddr(r *http.Request) net.Addr {
	if nc, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		return nc.RemoteAddr()
	}
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		return a
	}
	return &net.TCPAddr{}
}

// ConnectObject is the connect command's object for a request of tg: what
// an RTMP client would have sent for rtmp://HOST/APP[/INSTANCE]?QUERY,
// with the browser's User-Agent as its agent and its Referer as its page,
// which HTTP callbacks and scripts see.
func ConnectObject(tg Target, r *http.Request) amf.Object {
	app := tg.App
	if tg.Instance != "" {
		app += "/" + tg.Instance
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/?#@ \\") {
		host = "localhost"
	}
	tcURL := "rtmp://" + host + "/" + app
	if q := r.URL.RawQuery; q != "" {
		tcURL += "?" + q
	}
	return amf.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: truncate(r.UserAgent(), 256)},
		{Key: "tcUrl", Value: tcURL},
		{Key: "pageUrl", Value: truncate(r.Referer(), 1024)},
		{Key: "objectEncoding", Value: 0.0},
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Status returns the code and description of a status reply: the
// information object of an _error or onStatus.
func Status(cmd *protocol.Command) (code, desc string) { return status(cmd) }
