package hls

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
)

// sessionParam is the query parameter that carries a player's HLS
// session. The muxer copies a playlist request's query into the URIs it
// lists, so once index.m3u8 is answered with it every request of the
// player carries it.
const sessionParam = "hls_session"

// sessions issues and checks the session a player gets when the
// application allows its play (at index.m3u8). A session is ID.MAC: a
// random ID, which counts the player as a viewer, and an HMAC of it and
// the stream's path under a key of the process, which lets every later
// request (media playlists, parts, segments: several a second per
// player) be allowed without asking the application again, without a
// lookup and without state. A session is good for its stream, in both
// variants, until the server restarts.
type sessions struct {
	key [32]byte
}

func newSessions() *sessions {
	s := &sessions{}
	_, _ = rand.Read(s.key[:]) // crypto/rand.Read does not fail
	return s
}

// issue returns a new session for stream (an instance's path and a
// stream name).
func (s *sessions) issue(stream string) (id, value string) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	return id, id + "." + s.mac(stream, id)
}

// check returns the ID of a session value issued for stream.
func (s *sessions) check(stream, value string) (id string, ok bool) {
	id, mac, found := strings.Cut(value, ".")
	if !found || len(id) != 24 {
		return "", false
	}
	if !hmac.Equal([]byte(mac), []byte(s.mac(stream, id))) {
		return "", false
	}
	return id, true
}

func (s *sessions) mac(stream, id string) string {
	h := hmac.New(sha256.New, s.key[:])
	h.Write([]byte(stream))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// withSession returns rawQuery with the session value added.
func withSession(rawQuery, value string) string {
	p := sessionParam + "=" + url.QueryEscape(value)
	if rawQuery == "" {
		return p
	}
	return rawQuery + "&" + p
}
