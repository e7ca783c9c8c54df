package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// sampleApps copies the named sample applications (../applications) into
// a fresh applications directory, so tests never write SharedObjects into
// the repository.
func sampleApps(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		src := filepath.Join("..", "applications", name)
		if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeApp writes an application's main.js into dir, with a modification
// time that differs from any earlier version's.
func writeApp(t *testing.T, dir, app, src string, version int) {
	t.Helper()
	p := filepath.Join(dir, app, "main.js")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(time.Duration(version) * time.Minute)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func startApps(t *testing.T, dir string, change func(*config.Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *config.Config) {
		c.AppsDir = dir
		if change != nil {
			change(c)
		}
	})
}

func dialApp(t *testing.T, ts *testServer, app string, cfg rtmp.ClientConfig) (*rtmp.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, fmt.Sprintf("rtmp://%s/%s", ts.RTMPAddr(), app), cfg)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	}
	return c, err
}

func mustDialApp(t *testing.T, ts *testServer, app string, cfg rtmp.ClientConfig) *rtmp.Client {
	t.Helper()
	c, err := dialApp(t, ts, app, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", app, err)
	}
	return c
}

// soReader is what the RTMP and RTMFP clients share for SharedObjects.
type soReader interface {
	ReadSharedObject() (protocol.SharedObjectMessage, error)
}

// readSOUntil reads SharedObject messages of name until one holds an event
// of type typ for key, checking that versions never go backwards; it
// returns that message.
func readSOUntil(t *testing.T, c soReader, name string, typ protocol.SOEventType, key string) protocol.SharedObjectMessage {
	t.Helper()
	var last uint32
	for {
		m, err := c.ReadSharedObject()
		if err != nil {
			t.Fatalf("waiting for %v %s of %s: %v", typ, key, name, err)
		}
		if m.Name != name {
			continue
		}
		if m.Version < last {
			t.Fatalf("%s: version went back from %d to %d", name, last, m.Version)
		}
		last = m.Version
		for _, ev := range m.Events {
			if ev.Type == typ && (key == "" || ev.Key == key) {
				return m
			}
		}
	}
}

// TestSampleAuthFFmpeg (issue test 1): ffmpeg publishing to the auth
// sample with a wrong token is rejected and exits with an error; with the
// right token it streams.
func TestSampleAuthFFmpeg(t *testing.T) {
	src := testFLV(t)
	ts := startApps(t, sampleApps(t, "auth"), nil)
	url := fmt.Sprintf("rtmp://%s/auth/cam", ts.RTMPAddr())
	publish := func(token string) (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := testtools.FFmpeg(t, ctx, "-re", "-t", "2", "-i", src, "-c", "copy", "-f", "flv",
			"-rtmp_conn", "S:"+token, url).CombinedOutput()
		return err == nil, string(out)
	}
	if ok, out := publish("wrong"); ok {
		t.Fatalf("ffmpeg with a wrong token streamed:\n%s", out)
	}
	if n := ts.logs.FilterMessage("connect rejected by the application").Len(); n != 1 {
		t.Errorf("%d rejections logged, want 1", n)
	}
	if ok, out := publish("s3cret"); !ok {
		t.Fatalf("ffmpeg with the right token failed:\n%s", out)
	}
	testtools.WaitFor(t, 5*time.Second, "the script to see the publish", func() bool {
		for _, l := range ts.logs.FilterMessage("trace").All() {
			if strings.HasSuffix(l.ContextMap()["msg"].(string), "publishes cam") {
				return true
			}
		}
		return false
	})
	// Our client sees the error object the script passed to rejectConnection.
	_, err := dialApp(t, ts, "auth", rtmp.ClientConfig{ConnectArgs: []any{"nope"}})
	var se *protocol.StatusError
	if !errors.As(err, &se) || se.Code != protocol.ConnectRejected {
		t.Fatalf("connect with a bad token: %v", err)
	}
	appInfo, _ := se.Info.Get("application")
	if obj, _ := appInfo.(amf.Object); obj.String("message") != "invalid or missing token" {
		t.Errorf("info.application = %#v", appInfo)
	}
}

// TestSampleChat (issue test 2): one RTMP and one RTMFP client on chat.
// SharedObject changes from one reach the other with versions in order; a
// sendMessage call from one reaches the other through client.call; a call
// to an unknown method gets _error.
func TestSampleChat(t *testing.T) {
	ts := startApps(t, sampleApps(t, "chat"), nil)
	alice := mustDialApp(t, ts, "chat", rtmp.ClientConfig{ConnectArgs: []any{"alice"}})
	bob := dialRTMFP(t, "rtmfp://"+ts.RTMFPAddr().String()+"/chat", tc.ClientConfig{ConnectArgs: []any{"bob"}})
	bob.SetDeadline(time.Now().Add(20 * time.Second))
	type soClient interface {
		soReader
		UseSharedObject(name string, persistent bool) error
		SetSharedObjectProperty(name string, persistent bool, key string, value any) error
		Call(name string, args ...any) (protocol.Command, error)
		WaitCommand(name string) (protocol.Command, error)
	}
	clients := map[string]soClient{"alice": alice, "bob": bob}

	// Both see the user list, maintained by the script.
	for name, c := range clients {
		if err := c.UseSharedObject("users", false); err != nil {
			t.Fatal(err)
		}
		m := readSOUntil(t, c, "users", protocol.SOUseSuccess, "")
		names := map[any]bool{}
		for _, ev := range m.Events {
			if ev.Type == protocol.SOChange {
				names[ev.Value] = true
			}
		}
		if name == "bob" && !(names["alice"] && names["bob"]) {
			t.Errorf("bob's first view of users: %+v", m.Events)
		}
	}
	// Changes from each side reach the other, in version order.
	for _, dir := range []struct{ from, to string }{{"alice", "bob"}, {"bob", "alice"}} {
		from, to := clients[dir.from], clients[dir.to]
		var acked []uint32
		for i := 1; i <= 5; i++ {
			key := fmt.Sprintf("%s-%d", dir.from, i)
			if err := from.SetSharedObjectProperty("users", false, key, float64(i)); err != nil {
				t.Fatal(err)
			}
			acked = append(acked, readSOUntil(t, from, "users", protocol.SOSuccess, key).Version)
		}
		for i := 1; i <= 5; i++ {
			key := fmt.Sprintf("%s-%d", dir.from, i)
			m := readSOUntil(t, to, "users", protocol.SOChange, key)
			if m.Version != acked[i-1] {
				t.Errorf("%s saw %s at version %d; %s's change was acknowledged at %d", dir.to, key, m.Version, dir.from, acked[i-1])
			}
		}
	}
	// sendMessage from one reaches the other through client.call.
	for _, dir := range []struct{ from, to string }{{"alice", "bob"}, {"bob", "alice"}} {
		res, err := clients[dir.from].Call("sendMessage", "hi from "+dir.from)
		if err != nil {
			t.Fatalf("%s sendMessage: %v", dir.from, err)
		}
		if n, _ := res.ArgNumber(0); n < 1 {
			t.Errorf("sendMessage returned %v", res.Arg(0))
		}
		for _, to := range []string{dir.to, dir.from} { // the sender hears itself too
			call, err := clients[to].WaitCommand("onMessage")
			if err != nil {
				t.Fatal(err)
			}
			if call.ArgString(0) != dir.from || call.ArgString(1) != "hi from "+dir.from {
				t.Errorf("%s got onMessage%v", to, call.Args)
			}
		}
	}
	// Unknown methods and script exceptions come back as _error.
	for name, c := range clients {
		var se *protocol.StatusError
		if _, err := c.Call("noSuchMethod", 1.0); !errors.As(err, &se) || se.Code != protocol.CallFailed {
			t.Errorf("%s: unknown method: %v", name, err)
		}
		if _, err := c.Call("sendMessage"); !errors.As(err, &se) || !strings.Contains(se.Description, "needs a text") {
			t.Errorf("%s: sendMessage without text: %v", name, err)
		}
	}
}

// TestPersistentSharedObjectSurvivesRestart (issue test 3): a change
// acknowledged before a restart is there after it, with its version, and
// so is the chat script's persistent history.
func TestPersistentSharedObjectSurvivesRestart(t *testing.T) {
	dir := sampleApps(t, "chat")
	var version uint32
	t.Run("before", func(t *testing.T) {
		ts := startApps(t, dir, nil)
		c := mustDialApp(t, ts, "chat", rtmp.ClientConfig{ConnectArgs: []any{"carol"}, ObjectEncoding: 3})
		if err := c.UseSharedObject("settings", true); err != nil {
			t.Fatal(err)
		}
		readSOUntil(t, c, "settings", protocol.SOUseSuccess, "")
		if err := c.SetSharedObjectProperty("settings", true, "volume", 7.0); err != nil {
			t.Fatal(err)
		}
		if err := c.SetSharedObjectProperty("settings", true, "owner", amf.Object{{Key: "name", Value: "carol"}}); err != nil {
			t.Fatal(err)
		}
		version = readSOUntil(t, c, "settings", protocol.SOSuccess, "owner").Version
		if _, err := c.Call("sendMessage", "remember me"); err != nil {
			t.Fatal(err)
		}
	})
	ts := startApps(t, dir, nil)
	c := mustDialApp(t, ts, "chat", rtmp.ClientConfig{ConnectArgs: []any{"dave"}})
	for _, want := range []struct {
		so      string
		version uint32
		values  map[string]string
	}{
		{"settings", version, map[string]string{"volume": "7", "owner": "[{name carol}]"}},
		{"history", 0, map[string]string{"count": "1"}},
	} {
		if err := c.UseSharedObject(want.so, true); err != nil {
			t.Fatal(err)
		}
		m := readSOUntil(t, c, want.so, protocol.SOUseSuccess, "")
		if want.version != 0 && m.Version != want.version {
			t.Errorf("%s restored at version %d, want %d", want.so, m.Version, want.version)
		}
		got := map[string]string{}
		for _, ev := range m.Events {
			if ev.Type == protocol.SOChange {
				got[ev.Key] = fmt.Sprint(ev.Value)
			}
		}
		for k, v := range want.values {
			if got[k] != v {
				t.Errorf("%s.%s = %q after restart, want %q (all: %v)", want.so, k, got[k], v, got)
			}
		}
	}
}

// TestRunawayScript (issue test 4): while(true) in onConnect is
// interrupted, that client is rejected, and the next connects normally.
func TestRunawayScript(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "spin", `
		var n = 0;
		application.onConnect = function (client) {
			n++;
			if (n == 1) { while (true) {} }
			return true;
		};`, 0)
	ts := startApps(t, dir, func(c *config.Config) { c.Script.Timeout = config.Duration{Duration: 300 * time.Millisecond} })
	start := time.Now()
	_, err := dialApp(t, ts, "spin", rtmp.ClientConfig{})
	var se *protocol.StatusError
	if !errors.As(err, &se) || se.Code != protocol.ConnectRejected {
		t.Fatalf("first client: %v, want %s", err, protocol.ConnectRejected)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("rejection took %v", el)
	}
	if n := ts.logs.FilterMessage("script interrupted").Len(); n != 1 {
		t.Errorf("%d interruptions logged, want 1", n)
	}
	mustDialApp(t, ts, "spin", rtmp.ClientConfig{})
}

// TestAppReload (issue test 5): after Reload, and after a change to the
// script on disk, new connections run the new code; clients of the old
// instance are told NetConnection.Connect.AppShutdown.
func TestAppReload(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "app", versionScript(1), 1)
	ts := startApps(t, dir, nil)
	old := mustDialApp(t, ts, "app", rtmp.ClientConfig{})
	if v := callVersion(t, old); v != 1 {
		t.Fatalf("version %v, want 1", v)
	}
	writeApp(t, dir, "app", versionScript(2), 2)
	if err := ts.Apps().Reload("app"); err != nil {
		t.Fatal(err)
	}
	if info, err := old.WaitStatus(0, protocol.ConnectAppShutdown); err != nil || info.String("level") != protocol.LevelError {
		t.Errorf("old client: %v %v, want %s with level error", info, err, protocol.ConnectAppShutdown)
	}
	if v := callVersion(t, mustDialApp(t, ts, "app", rtmp.ClientConfig{})); v != 2 {
		t.Errorf("after Reload: version %v, want 2", v)
	}
	// A change on disk is picked up by the registry's polling.
	writeApp(t, dir, "app", versionScript(3), 3)
	// A client that connects just before the reload is told to go
	// mid-call; the next attempt meets the new instance.
	testtools.WaitFor(t, 10*time.Second, "the changed script to be loaded", func() bool {
		c, err := dialApp(t, ts, "app", rtmp.ClientConfig{})
		if err != nil {
			return false
		}
		res, err := c.Call("version")
		n, _ := res.ArgNumber(0)
		return err == nil && n == 3
	})
}

// TestSampleP2PDirectory: an RTMFP client registers its peer ID and an
// RTMP client looks it up; an entry goes when its client disconnects.
func TestSampleP2PDirectory(t *testing.T) {
	ts := startApps(t, sampleApps(t, "p2p-directory"), nil)
	peer := dialRTMFP(t, "rtmfp://"+ts.RTMFPAddr().String()+"/p2p-directory", tc.ClientConfig{})
	peer.SetDeadline(time.Now().Add(20 * time.Second))
	id := peer.Session().Endpoint().PeerID()
	nearID := hex.EncodeToString(id[:])
	// As a Flash client does with nc.nearID (client.farID serves when the
	// transport reports it).
	res, err := peer.Call("register", "alice", nearID)
	if err != nil || res.ArgString(0) != nearID {
		t.Fatalf("register: %v %v", res.Args, err)
	}
	seeker := mustDialApp(t, ts, "p2p-directory", rtmp.ClientConfig{})
	for name, want := range map[string]any{"alice": nearID, "bob": nil} {
		res, err := seeker.Call("lookup", name)
		if err != nil || res.Arg(0) != want {
			t.Errorf("lookup(%s) = %v, %v; want %v", name, res.Args, err, want)
		}
	}
	var se *protocol.StatusError
	if _, err := seeker.Call("register", "mallory"); !errors.As(err, &se) || se.Code != protocol.CallFailed {
		t.Errorf("register without a peer ID over RTMP: %v", err)
	}
	bobID := strings.Repeat("ab", 32)
	bob := mustDialApp(t, ts, "p2p-directory", rtmp.ClientConfig{})
	if _, err := bob.Call("register", "bob", bobID); err != nil {
		t.Fatal(err)
	}
	if res, err := seeker.Call("lookup", "bob"); err != nil || res.Arg(0) != bobID {
		t.Fatalf("lookup(bob) = %v, %v", res.Args, err)
	}
	_ = bob.Close()
	testtools.WaitFor(t, 10*time.Second, "bob to leave the directory", func() bool {
		res, err := seeker.Call("lookup", "bob")
		return err == nil && res.Arg(0) == nil
	})
}

// TestSampleLive: the live sample has no script; publishing and playing
// work as without a folder.
func TestSampleLive(t *testing.T) {
	ts := startApps(t, sampleApps(t, "live"), nil)
	if d := ts.Apps().App("live").Dir(); d == "" {
		t.Fatal("live served without its folder")
	}
	pub, pid := startPublishing(t, ts, "s", rtmp.ClientConfig{})
	player, sid := startPlaying(t, ts, "s", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	if m := readMedia(t, player, sid); m.Type != protocol.TypeVideo {
		t.Errorf("player got %v", m.Type)
	}
}

// TestReloadRestartsScriptsInPlace: SIGHUP's Reload restarts application
// scripts without dropping anyone — a client connected before it now calls
// the new script's methods, and a live stream of that application keeps
// reaching its player. With app_reload_keeps_clients a script edit does the
// same.
func TestReloadRestartsScriptsInPlace(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "app", versionScript(1), 1)
	ts := startApps(t, dir, func(c *config.Config) { c.AppReloadKeepsClients = true })
	c := mustDialApp(t, ts, "app", rtmp.ClientConfig{})
	pub := mustDialApp(t, ts, "app", rtmp.ClientConfig{})
	pid, _ := pub.CreateStream()
	if err := pub.Publish(pid, "s", "live"); err != nil {
		t.Fatal(err)
	}
	player := mustDialApp(t, ts, "app", rtmp.ClientConfig{})
	id, _ := player.CreateStream()
	if err := player.Play(id, "s", -2000); err != nil {
		t.Fatal(err)
	}
	if v := callVersion(t, c); v != 1 {
		t.Fatalf("version %v, want 1", v)
	}
	writeApp(t, dir, "app", versionScript(2), 2)
	if err := ts.Reload(ts.config()); err != nil {
		t.Fatal(err)
	}
	if v := callVersion(t, c); v != 2 {
		t.Errorf("after Reload: the connected client calls version %v, want 2", v)
	}
	// A script edit restarts it in place too (app_reload_keeps_clients).
	writeApp(t, dir, "app", versionScript(3), 3)
	testtools.WaitFor(t, 10*time.Second, "the edited script to run", func() bool {
		// A call that lands while the old runtime is stopped and the new
		// one not yet started is refused; the next one gets through.
		res, err := c.Call("version")
		if err != nil {
			return false
		}
		n, _ := res.ArgNumber(0)
		return n == 3
	})
	send(t, pub, pid, protocol.TypeVideo, 0, avcFrame(true, 1, 100))
	if m := readMedia(t, player, id); m.Type != protocol.TypeVideo {
		t.Fatal("live stream stopped across the script restarts")
	}
}

// versionScript is an application script whose clients' version() returns v.
func versionScript(v int) string {
	return fmt.Sprintf(`Client.prototype.version = function () { return %d; };`, v)
}

// callVersion calls version() on c's application.
func callVersion(t *testing.T, c *rtmp.Client) float64 {
	t.Helper()
	res, err := c.Call("version")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := res.ArgNumber(0)
	return n
}
