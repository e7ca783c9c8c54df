package netconn

import (
	"errors"
	"net/url"
	"strings"

	"github.com/nimbus-media/nimbus/apps/auth"
)

// authRequest describes the client for an authorization check.
func (c *Conn) authRequest(app, stream, query string) auth.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return auth.Request{
		App: app, Stream: stream, Query: query, Addr: hostOf(c.tr.RemoteAddr().String()), ClientID: c.id,
		FlashVer: c.agent, TCURL: c.tcURL, PageURL: c.pageURL, SWFURL: c.swfURL,
	}
}

// streamAuth is authRequest for a stream of the connected application.
func (c *Conn) streamAuth(stream, query, kind string) auth.Request {
	r := c.authRequest(c.inst.App().Name(), stream, query)
	r.Type = kind
	return r
}

// connectQuery is the query of the connect URL, where authmod=adobe
// credentials travel: in tcUrl, or in the app property. Encoders put the
// base64 response there unescaped, so '+' is a plus, not a space.
func connectQuery(tcURL, app string) url.Values {
	for _, s := range []string{tcURL, app} {
		if _, q, ok := strings.Cut(s, "?"); ok {
			if v, err := url.ParseQuery(strings.ReplaceAll(q, "+", "%2B")); err == nil {
				return v
			}
		}
	}
	return url.Values{}
}

// denialText is what a refused client is told.
func denialText(err error) string {
	var d *auth.Denial
	if errors.As(err, &d) {
		return d.Description
	}
	return "Refused."
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
