package server

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestAdobeChallengeSurvivesReload: a client that got its authmod=adobe
// challenge just before a reload (SIGHUP) answers it successfully after:
// the key that signs challenges and salts is the server's, not the
// configuration's.
func TestAdobeChallengeSurvivesReload(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Apps = append(c.Apps, config.AppConfig{Name: "enc", Users: []config.UserConfig{{Name: "obs", Password: "hunter2"}}})
	})
	connect := func(query string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", ts.RTMPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		app := "enc?" + query
		u := rtmp.URL{Host: ts.RTMPAddr().String(), App: app, TCURL: "rtmp://" + ts.RTMPAddr().String() + "/" + app}
		c, err := rtmp.NewClient(ctx, nc, u, rtmp.ClientConfig{})
		if err != nil {
			_ = nc.Close()
			return err
		}
		c.Close()
		return nil
	}

	// The second connect of authmod=adobe: the server answers with the
	// user's salt and a challenge.
	err := connect("authmod=adobe&user=obs")
	var se *protocol.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("connect naming the user: %v, want a refusal with a challenge", err)
	}
	_, reason, ok := strings.Cut(se.Description, "?")
	if !ok {
		t.Fatalf("refusal %q carries no challenge", se.Description)
	}
	// The salt is base64, sent unescaped as clients expect: a '+' in it
	// is a plus, so the fields are split by hand rather than query-decoded.
	q := url.Values{}
	for _, kv := range strings.Split(reason, "&") {
		k, v, _ := strings.Cut(kv, "=")
		q.Set(k, v)
	}
	if q.Get("reason") != "needauth" || q.Get("salt") == "" || q.Get("challenge") == "" {
		t.Fatalf("refusal %q: want reason=needauth with salt and challenge", se.Description)
	}

	if err := ts.Reload(ts.config()); err != nil {
		t.Fatal(err)
	}

	const clientChallenge = "0a1b2c3d"
	answer := url.Values{
		"authmod": {"adobe"}, "user": {"obs"}, "challenge": {clientChallenge}, "opaque": {q.Get("opaque")},
		"response": {auth.AdobeResponse("obs", "hunter2", q.Get("salt"), q.Get("challenge"), clientChallenge)},
	}
	if err := connect(answer.Encode()); err != nil {
		t.Fatalf("answering a challenge issued before the reload: %v", err)
	}
}
