// Package playpage serves the player page of the playback listener:
// GET /APP/STREAM (or /APP/INSTANCE/STREAM) answers a small page, embedded
// in the binary, whose <video> plays the stream over WebRTC (WHEP) when it
// can, else over LL-HLS where the browser plays HLS itself, and otherwise
// lists the stream's URLs for a player. The page is static: it finds the
// stream's URLs from its own location, so a request costs no lookup but
// the application's, and makes nothing.
package playpage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/server/httpflv"
)

//go:embed page.html
var pageHTML string

// Transports says which of the page's transports the listener serves, so
// that the page does not try one that is off.
type Transports struct {
	WHEP, HLS bool
}

// Handler answers GET requests of the playback listener that are not
// HTTP-FLV's (httpflv.Deps.Next): the player page for a page's path,
// everything else to next (HLS), or 404 when next is nil.
type Handler struct {
	apps *apps.Registry
	next http.Handler
	page []byte
	csp  string
}

// New makes the handler. The page, with t stated in its <html> element,
// and its Content-Security-Policy are made once here.
func New(reg *apps.Registry, t Transports, next http.Handler) *Handler {
	page := strings.Replace(pageHTML, "<html ", `<html data-whep="`+onOff(t.WHEP)+`" data-hls="`+onOff(t.HLS)+`" `, 1)
	return &Handler{apps: reg, next: next, page: []byte(page), csp: policy(page)}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// policy is the page's Content-Security-Policy: its own inline script and
// style (by hash, as the page is one response), requests and media to its
// own origin only. No frame-ancestors: the page is meant to be embedded
// (the dashboard's preview, an operator's site).
func policy(page string) string {
	return "default-src 'none'; script-src " + inlineHash(page, "script") + "; style-src " + inlineHash(page, "style") +
		"; connect-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'"
}

// inlineHash is the CSP source of the page's one <tag> element's content.
func inlineHash(page, tag string) string {
	_, rest, ok := strings.Cut(page, "<"+tag+">")
	body, _, ok2 := strings.Cut(rest, "</"+tag+">")
	if !ok || !ok2 {
		panic("playpage: page.html has no <" + tag + ">")
	}
	sum := sha256.Sum256([]byte(body))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// ServeHTTP answers a GET: the page when the path is one, else next's
// answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tg, ok := PagePath(r.URL.Path)
	if !ok {
		if h.next != nil {
			h.next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not a playback URL: /APP/STREAM (the player page) or /APP/STREAM.flv", http.StatusNotFound)
		return
	}
	// An unknown application is a plain 404 at once; a stream of a known
	// one gets the page even before it is published, which waits for it.
	if h.apps.App(tg.App) == nil {
		http.Error(w, "no such application", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Length", strconv.Itoa(len(h.page)))
	_, _ = w.Write(h.page)
}

// PagePath tells whether a path names a player page, /APP/STREAM or
// /APP/INSTANCE/STREAM, and what it names. The last element has no '.'
// (the transports' files all have an extension: STREAM.flv, index.m3u8,
// segments) and is not whep or whip (WebRTC's resources, when WebRTC is
// off): a stream whose name has a dot has no page.
func PagePath(path string) (httpflv.Target, bool) {
	last := path[strings.LastIndexByte(path, '/')+1:]
	if strings.ContainsRune(last, '.') || last == "whep" || last == "whip" {
		return httpflv.Target{}, false
	}
	return httpflv.ParsePath(path + ".flv") // the same names as HTTP-FLV's
}
