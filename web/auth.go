package web

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Password hashes are PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) written as
// "pbkdf2-sha256$<iterations>$<salt>$<key>" with unpadded standard base64.
// The iteration count travels with the hash so that it can be raised later
// without invalidating existing configurations.
const (
	hashScheme = "pbkdf2-sha256"
	// DefaultIterations follows OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
	DefaultIterations = 600_000
	saltLen           = 16
	keyLen            = 32
	maxIterations     = 10_000_000 // a hash claiming more is a denial of service
)

var b64 = base64.RawStdEncoding

// HashPassword returns the configuration form of password's hash.
func HashPassword(password string, iterations int) (string, error) {
	if iterations < 1 || iterations > maxIterations {
		return "", fmt.Errorf("%w: iterations %d outside 1..%d", ErrBadHash, iterations, maxIterations)
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hashScheme + "$" + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// passwordHash is a parsed password hash.
type passwordHash struct {
	iterations int
	salt, key  []byte
}

func parsePasswordHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return passwordHash{}, fmt.Errorf("%w: want %s$<iterations>$<salt>$<key>", ErrBadHash, hashScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return passwordHash{}, fmt.Errorf("%w: iterations %q", ErrBadHash, parts[1])
	}
	salt, err := b64.DecodeString(parts[2])
	if err != nil || len(salt) < 8 {
		return passwordHash{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	key, err := b64.DecodeString(parts[3])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return passwordHash{}, fmt.Errorf("%w: key", ErrBadHash)
	}
	return passwordHash{iterations: iter, salt: salt, key: key}, nil
}

func (h passwordHash) verify(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// HashToken returns the configuration form of an API token: its hex SHA-256.
// Tokens are random and long, so a fast hash is enough; it keeps the secret
// itself out of the configuration file.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a random API token.
func NewToken() string { return randomID() }

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CheckListen refuses a listen address that is not loopback when no
// credentials are configured. An empty host (":8080") listens on every
// interface and is not loopback.
func CheckListen(addr string, haveCredentials bool) error {
	if haveCredentials {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web: listen address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("%w (%s): set http.user and http.password_hash (nimbus passwd) or http.token_sha256", ErrInsecureListen, addr)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// auth decides who may use the admin server. With no credentials
// configured everything is open (the listener is then loopback only).
type auth struct {
	user  string
	pass  *passwordHash
	token []byte // SHA-256 of the bearer token
	ttl   time.Duration

	// Verified basic-auth credentials, keyed by an HMAC of user and
	// password, so that scripts polling with basic auth do not pay a full
	// PBKDF2 derivation per request. Bounded: cleared when it fills.
	cacheKey [32]byte
	// kdf admits one key derivation at a time: each costs about a core
	// for a fraction of a second, so guessing passwords in parallel must
	// not take the media server's CPU.
	kdf      chan struct{}
	mu       sync.Mutex
	verified map[[32]byte]struct{}
	sessions map[string]*session
}

type session struct {
	csrf    string
	expires time.Time
}

const (
	sessionCookie   = "nimbus_session"
	csrfHeader      = "X-CSRF-Token"
	maxSessions     = 1024
	maxVerifiedKeys = 16
)

func newAuth(cfg Config) (*auth, error) {
	a := &auth{
		user: cfg.User, ttl: cfg.SessionTTL, kdf: make(chan struct{}, 1),
		verified: make(map[[32]byte]struct{}), sessions: make(map[string]*session),
	}
	_, _ = rand.Read(a.cacheKey[:])
	if (cfg.User == "") != (cfg.PasswordHash == "") {
		return nil, ErrUserWithoutPassword
	}
	if cfg.PasswordHash != "" {
		h, err := parsePasswordHash(cfg.PasswordHash)
		if err != nil {
			return nil, err
		}
		a.pass = &h
	}
	if cfg.TokenSHA256 != "" {
		t, err := hex.DecodeString(cfg.TokenSHA256)
		if err != nil || len(t) != sha256.Size {
			return nil, ErrBadToken
		}
		a.token = t
	}
	if a.ttl <= 0 {
		a.ttl = 12 * time.Hour
	}
	return a, nil
}

// open reports whether no credentials are configured.
func (a *auth) open() bool { return a.pass == nil && a.token == nil }

// checkPassword verifies a user name and password.
func (a *auth) checkPassword(user, password string) bool {
	if a.pass == nil {
		return false
	}
	mac := hmac.New(sha256.New, a.cacheKey[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [32]byte
	mac.Sum(k[:0])
	a.mu.Lock()
	_, ok := a.verified[k]
	a.mu.Unlock()
	if ok {
		return true
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(a.user)) == 1
	a.kdf <- struct{}{}
	passOK := a.pass.verify(password)
	<-a.kdf
	if !passOK || !userOK {
		return false
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerifiedKeys {
		clear(a.verified)
	}
	a.verified[k] = struct{}{}
	a.mu.Unlock()
	return true
}

func (a *auth) checkToken(token string) bool {
	if a.token == nil {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.token) == 1
}

// newSession starts a browser session and returns its ID.
func (a *auth) newSession(now time.Time) (string, *session) {
	id := randomID()
	s := &session{csrf: randomID(), expires: now.Add(a.ttl)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		a.expireLocked(now)
		if len(a.sessions) >= maxSessions {
			// Evict the session closest to expiry rather than refuse logins.
			var oldest string
			for k, v := range a.sessions {
				if oldest == "" || v.expires.Before(a.sessions[oldest].expires) {
					oldest = k
				}
			}
			delete(a.sessions, oldest)
		}
	}
	a.sessions[id] = s
	return id, s
}

func (a *auth) expireLocked(now time.Time) {
	for k, v := range a.sessions {
		if now.After(v.expires) {
			delete(a.sessions, k)
		}
	}
}

// session returns the live session named by r's cookie.
func (a *auth) session(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil || now.After(s.expires) {
		delete(a.sessions, c.Value)
		return nil
	}
	return s
}

func (a *auth) endSession(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
}

// principal is how a request authenticated.
type principal int

const (
	anonymous  principal = iota
	viaOpen              // no credentials configured
	viaSession           // dashboard cookie: actions need the CSRF token
	viaScript            // basic auth or bearer token: not sent by browsers on their own
)

// identify authenticates r.
func (a *auth) identify(r *http.Request, now time.Time) (principal, *session) {
	if s := a.session(r, now); s != nil {
		return viaSession, s
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && a.checkToken(strings.TrimSpace(tok)) {
			return viaScript, nil
		}
		if u, p, ok := r.BasicAuth(); ok && a.checkPassword(u, p) {
			return viaScript, nil
		}
		return anonymous, nil
	}
	if a.open() {
		return viaOpen, nil
	}
	return anonymous, nil
}

// sameOrigin reports whether a browser request comes from the dashboard's
// own origin. Requests without Origin come from scripts or same-origin
// navigations.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	host, ok := strings.CutPrefix(o, "http://")
	if !ok {
		host, ok = strings.CutPrefix(o, "https://")
	}
	return ok && strings.EqualFold(host, r.Host)
}

// loopbackHost reports whether the Host header names a loopback address, so
// that an open (credential-less) server cannot be reached through DNS
// rebinding under a foreign name.
func loopbackHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopbackHost(strings.Trim(host, "[]"))
}
