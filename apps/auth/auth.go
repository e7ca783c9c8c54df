// Package auth decides who may connect, publish and play, per application,
// the three ways encoders and operators already know:
//
//   - signed, expiring tokens in the stream name's query string
//     ("name?expires=UNIX&token=HEX", HMAC-SHA256 with a per-app secret);
//   - Adobe's authmod=adobe challenge-response at connect, which FMLE, OBS,
//     ffmpeg and Wirecast speak when given rtmp://user:pass@host/app;
//   - HTTP callbacks in the nginx-rtmp on_connect/on_publish/on_play/on_done
//     convention: a form POST, where a 2xx answer allows and anything else,
//     or no answer within the timeout, refuses.
//
// Refusals never tell whether a user exists: an unknown user is walked
// through the same challenge as a known one and fails the same way.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrDenied is wrapped by every refusal; the refusal's text is what the
// client is told.
var ErrDenied = errors.New("auth: denied")

// Denial is a refusal with the description the client sees.
type Denial struct{ Description string }

func (d *Denial) Error() string { return "auth: " + d.Description }

// Unwrap makes errors.Is(err, ErrDenied) hold.
func (d *Denial) Unwrap() error { return ErrDenied }

func deny(format string, args ...any) error {
	return &Denial{Description: fmt.Sprintf(format, args...)}
}

// Policy is one application's rules. The zero Policy allows everything.
type Policy struct {
	// TokenSecret enables token checks; TokenPublish and TokenPlay say for
	// which actions.
	TokenSecret  string
	TokenPublish bool
	TokenPlay    bool
	// Users enables authmod=adobe for every connect to the application:
	// user name to password.
	Users map[string]string
	// HTTP callback URLs; empty ones are not called.
	OnConnect, OnPublish, OnPlay, OnDone string
}

// Request describes what a client asks for.
type Request struct {
	Action   string // "connect", "publish", "play", "done"
	App      string
	Stream   string
	Query    string // the raw query of the stream name (or of the connect URL)
	Addr     string // client address
	ClientID string
	FlashVer string
	TCURL    string
	PageURL  string
	SWFURL   string
	Type     string // publish type ("live", …)
}

// Manager applies the policies of all applications.
type Manager struct {
	policies map[string]Policy
	key      []byte // signs adobe challenges, so none need storing
	client   *http.Client
	now      func() time.Time
}

// NewManager makes a manager. key signs authmod=adobe salts and
// challenges (random per process is fine: a challenge lives one minute);
// a caller that rebuilds its manager, on a configuration reload, must pass
// the same key, or the challenges it has issued fail. Callbacks time out
// after timeout.
func NewManager(policies map[string]Policy, key []byte, timeout time.Duration) *Manager {
	return &Manager{policies: policies, key: key, client: &http.Client{Timeout: timeout}, now: time.Now}
}

// policy returns the application's policy.
func (m *Manager) policy(app string) Policy {
	if m == nil {
		return Policy{}
	}
	return m.policies[app]
}

// Connect authorizes a connect. query is the connect URL's query (from
// tcUrl or the app property), where authmod=adobe credentials travel.
func (m *Manager) Connect(ctx context.Context, req Request, query url.Values) error {
	p := m.policy(req.App)
	if len(p.Users) > 0 {
		if err := m.adobe(p, query); err != nil {
			return err
		}
	}
	req.Action = "connect"
	return m.callback(ctx, p.OnConnect, req)
}

// Publish authorizes a publish.
func (m *Manager) Publish(ctx context.Context, req Request) error {
	p := m.policy(req.App)
	if p.TokenSecret != "" && p.TokenPublish {
		if err := m.checkToken(p.TokenSecret, req); err != nil {
			return err
		}
	}
	req.Action = "publish"
	return m.callback(ctx, p.OnPublish, req)
}

// Play authorizes a play.
func (m *Manager) Play(ctx context.Context, req Request) error {
	p := m.policy(req.App)
	if p.TokenSecret != "" && p.TokenPlay {
		if err := m.checkToken(p.TokenSecret, req); err != nil {
			return err
		}
	}
	req.Action = "play"
	return m.callback(ctx, p.OnPlay, req)
}

// Done notifies the on_done callback that a publish or play ended. It does
// not wait for the answer.
func (m *Manager) Done(req Request) {
	p := m.policy(req.App)
	if p.OnDone == "" {
		return
	}
	req.Action = "done"
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.client.Timeout)
		defer cancel()
		_ = m.callback(ctx, p.OnDone, req)
	}()
}

// Token is the signature of app/stream valid until expires.
func Token(secret, app, stream string, expires int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%s/%s|%d", app, stream, expires)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignedName returns stream with an expiring token in its query, as
// `nimbus token` prints it.
func SignedName(secret, app, stream string, expires time.Time) string {
	e := expires.Unix()
	return fmt.Sprintf("%s?expires=%d&token=%s", stream, e, Token(secret, app, stream, e))
}

func (m *Manager) checkToken(secret string, req Request) error {
	q, err := url.ParseQuery(req.Query)
	if err != nil {
		return deny("malformed query")
	}
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || q.Get("token") == "" {
		return deny("a token is required")
	}
	if m.now().Unix() > expires {
		return deny("token expired")
	}
	want := Token(secret, req.App, req.Stream, expires)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(q.Get("token")))) {
		return deny("invalid token")
	}
	return nil
}

// callback POSTs the request to u in the nginx-rtmp form convention; a 2xx
// answer allows.
func (m *Manager) callback(ctx context.Context, u string, req Request) error {
	if u == "" {
		return nil
	}
	form := url.Values{
		"call": {req.Action}, "app": {req.App}, "name": {req.Stream}, "addr": {req.Addr},
		"clientid": {req.ClientID}, "flashver": {req.FlashVer}, "tcurl": {req.TCURL},
		"pageurl": {req.PageURL}, "swfurl": {req.SWFURL},
	}
	if req.Type != "" {
		form.Set("type", req.Type)
	}
	// The stream name's query arguments go along, as nginx-rtmp passes them.
	if q, err := url.ParseQuery(req.Query); err == nil {
		for k, v := range q {
			if form.Get(k) == "" {
				form[k] = v
			}
		}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return deny("%s refused", req.Action)
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.client.Do(hr)
	if err != nil {
		return fmt.Errorf("%w: %s callback: %w", &Denial{Description: req.Action + " refused"}, req.Action, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return deny("%s refused", req.Action)
	}
	return nil
}
