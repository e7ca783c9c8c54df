package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"time"
)

// challengeTTL is how long an authmod=adobe challenge may be answered.
const challengeTTL = time.Minute

// adobe runs the server side of Adobe's authmod=adobe (three connects; see
// reference/ams-behaviour.md §7.1). The salt and challenge are derived from
// the manager's key, so the server keeps no state between the connects, and
// an unknown user gets a salt and challenge like anyone else and then the
// same "authfailed" as a wrong password.
func (m *Manager) adobe(p Policy, q url.Values) error {
	if q.Get("authmod") != "adobe" {
		return deny("[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ] : ")
	}
	user := q.Get("user")
	if user == "" {
		return deny("[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=nosuchuser")
	}
	salt := m.salt(user)
	if q.Get("response") == "" {
		challenge := m.challenge(user, m.now())
		return deny("[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=needauth&user=%s&salt=%s&challenge=%s&opaque=%s",
			url.QueryEscape(user), salt, challenge, challenge)
	}
	challenge := q.Get("opaque")
	if challenge == "" {
		challenge = q.Get("challenge") // Wirecast answers with the challenge
	}
	password, known := p.Users[user]
	if !m.validChallenge(user, challenge, m.now()) || !known ||
		!hmac.Equal([]byte(AdobeResponse(user, password, salt, challenge, q.Get("challenge"))), []byte(q.Get("response"))) {
		return deny("[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=authfailed")
	}
	return nil
}

// AdobeResponse is what a client answers: base64(MD5(base64(MD5(user salt
// password)) challenge clientChallenge)), as ffmpeg computes it.
func AdobeResponse(user, password, salt, challenge, clientChallenge string) string {
	h1 := md5.Sum([]byte(user + salt + password))
	h2 := md5.Sum([]byte(base64.StdEncoding.EncodeToString(h1[:]) + challenge + clientChallenge))
	return base64.StdEncoding.EncodeToString(h2[:])
}

func (m *Manager) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, m.key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// salt is the user's fixed salt.
func (m *Manager) salt(user string) string {
	return base64.StdEncoding.EncodeToString(m.mac("salt", user)[:6])
}

// challenge is a time stamp and its signature, in hex.
func (m *Manager) challenge(user string, now time.Time) string {
	var ts [4]byte
	binary.BigEndian.PutUint32(ts[:], uint32(now.Unix()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(m.mac("challenge", user, hex.EncodeToString(ts[:]))[:6])
}

func (m *Manager) validChallenge(user, c string, now time.Time) bool {
	if len(c) != 20 {
		return false
	}
	ts, err := hex.DecodeString(c[:8])
	if err != nil {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint32(ts)), 0)
	if now.Sub(issued) > challengeTTL || issued.After(now.Add(time.Second)) {
		return false
	}
	want := c[:8] + hex.EncodeToString(m.mac("challenge", user, c[:8])[:6])
	return hmac.Equal([]byte(want), []byte(c))
}

// StripCredentials removes the authmod=adobe fields from a query, which
// must not take part in routing.
func StripCredentials(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		switch k {
		case "authmod", "user", "challenge", "response", "opaque":
		default:
			out[k] = v
		}
	}
	return out
}
