package apps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// fakeEngine starts fakeHooks, recording which script each instance saw.
type fakeEngine struct {
	mu      sync.Mutex
	started []string // "app/instance:<main.js contents>"
	stopped atomic.Int32
	fail    error
}

func (e *fakeEngine) Start(inst *Instance) (Hooks, error) {
	if e.fail != nil {
		return nil, e.fail
	}
	src, _ := os.ReadFile(filepath.Join(inst.Dir(), "main.js"))
	e.mu.Lock()
	e.started = append(e.started, inst.Path()+":"+string(src))
	e.mu.Unlock()
	return &fakeHooks{e: e}, nil
}

func (e *fakeEngine) starts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.started...)
}

type fakeHooks struct {
	defaultHooks
	e *fakeEngine
}

func (h *fakeHooks) Stop() { h.e.stopped.Add(1) }

// fakeClient records how it was disconnected.
type fakeClient struct {
	id   string
	mu   sync.Mutex
	code string
}

func (c *fakeClient) ID() string       { return c.id }
func (c *fakeClient) Protocol() string { return "test" }
func (c *fakeClient) Info() ClientInfo { return ClientInfo{ID: c.id} }
func (c *fakeClient) Call(string, []any, func(any, error)) error {
	return nil
}
func (c *fakeClient) Disconnect(code, _ string, _ error) {
	c.mu.Lock()
	c.code = code
	c.mu.Unlock()
}
func (c *fakeClient) disconnected() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

func writeScript(t *testing.T, dir, app, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, app), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, app, "main.js")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Make sure the change is visible to an mtime comparison even on
	// coarse-grained file systems.
	future := time.Now().Add(time.Duration(len(src)) * time.Second)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryScansDirectory(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "chat", "v1")
	for _, name := range []string{".hidden", "bad name"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(Config{Apps: []string{"live"}, Dir: dir})
	var names []string
	for _, a := range r.Apps() {
		names = append(names, a.Name())
	}
	if len(names) != 2 || names[0] != "chat" || names[1] != "live" {
		t.Fatalf("apps = %q, want [chat live]", names)
	}
	if r.App("live").Dir() != "" || r.App("chat").Dir() != filepath.Join(dir, "chat") {
		t.Errorf("dirs: live %q, chat %q", r.App("live").Dir(), r.App("chat").Dir())
	}
	if _, err := r.Resolve("nope", ""); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("unknown app: %v", err)
	}
	inst, err := r.Resolve("chat", "")
	if err != nil || inst.Path() != "chat/_definst_" {
		t.Fatalf("resolve: %v %v", inst, err)
	}
	if again, _ := r.Resolve("chat", DefaultInstance); again != inst {
		t.Error("second resolve made a new instance")
	}
	if err := os.RemoveAll(filepath.Join(dir, "chat")); err != nil {
		t.Fatal(err)
	}
	r.scan()
	if r.App("chat") != nil {
		t.Error("app without folder still served")
	}
}

func TestRegistryReloadAndUnload(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "chat", "v1")
	e := &fakeEngine{}
	r := NewRegistry(Config{Dir: dir, Engine: e})
	inst, _ := r.Resolve("chat", "")
	c := &fakeClient{id: "1"}
	inst.AddClient(c)

	writeScript(t, dir, "chat", "version 2")
	if err := r.Reload("chat"); err != nil {
		t.Fatal(err)
	}
	if c.disconnected() != "NetConnection.Connect.AppShutdown" {
		t.Errorf("client told %q on reload", c.disconnected())
	}
	if e.stopped.Load() != 1 {
		t.Errorf("%d scripts stopped, want 1", e.stopped.Load())
	}
	inst2, _ := r.Resolve("chat", "")
	if inst2 == inst {
		t.Fatal("reload kept the old instance")
	}
	late := &fakeClient{id: "late"}
	inst.AddClient(late) // accepted by the old instance after it was unloaded
	if late.disconnected() == "" {
		t.Error("client added to an unloaded instance was not disconnected")
	}
	if got := e.starts(); len(got) != 2 || got[1] != "chat/_definst_:version 2" {
		t.Errorf("starts = %q", got)
	}
	other, _ := r.Resolve("chat", "room2")
	if err := r.UnloadInstance("chat", "room2"); err != nil {
		t.Fatal(err)
	}
	if got := r.App("chat").Instances(); len(got) != 1 || got[0] != inst2 || other.LoadError() != nil {
		t.Errorf("after UnloadInstance: %v", got)
	}
	if e.stopped.Load() != 2 {
		t.Errorf("%d scripts stopped after UnloadInstance, want 2", e.stopped.Load())
	}
	if err := r.UnloadInstance("chat", "not-loaded"); err != nil {
		t.Errorf("unloading an instance that is not loaded: %v", err)
	}
	if err := r.Unload("chat"); err != nil {
		t.Fatal(err)
	}
	if e.stopped.Load() != 3 {
		t.Errorf("%d scripts stopped after Unload, want 3", e.stopped.Load())
	}
	if err := r.UnloadInstance("nope", ""); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("UnloadInstance of an unknown app: %v", err)
	}
	for _, f := range []func(string) error{r.Reload, r.Unload} {
		if err := f("nope"); !errors.Is(err, ErrUnknownApp) {
			t.Errorf("unknown app: %v", err)
		}
	}
}

// TestRegistryRunReloadsChangedFiles: Run notices a changed script, unloads
// the instance, and unloads everything when its context ends.
func TestRegistryRunReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "chat", "v1")
	e := &fakeEngine{}
	r := NewRegistry(Config{Dir: dir, Engine: e, PollInterval: 10 * time.Millisecond, IdleTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	inst, _ := r.Resolve("chat", "")
	inst.AddClient(&fakeClient{id: "1"})
	writeScript(t, dir, "chat", "version two")
	testtools.WaitFor(t, 5*time.Second, "the condition", func() bool { return e.stopped.Load() == 1 })
	writeScript(t, dir, "new", "n")
	testtools.WaitFor(t, 5*time.Second, "the condition", func() bool { return r.App("new") != nil })
	inst2, _ := r.Resolve("chat", "")
	cancel()
	<-done
	if e.stopped.Load() != 2 || len(r.App("chat").Instances()) != 0 {
		t.Errorf("after Run: %d stopped, instances %v", e.stopped.Load(), r.App("chat").Instances())
	}
	_ = inst2
}

func TestRegistryIdleUnload(t *testing.T) {
	e := &fakeEngine{}
	r := NewRegistry(Config{Apps: []string{"live"}, Engine: e})
	a := r.App("live")
	inst, _ := r.Resolve("live", "")
	c := &fakeClient{id: "1"}
	inst.AddClient(c)
	now := time.Now()
	a.unloadIdle(now.Add(time.Hour), time.Minute)
	if len(a.Instances()) != 1 {
		t.Fatal("instance with a client unloaded")
	}
	inst.Disconnect(c)
	a.unloadIdle(now.Add(30*time.Second), time.Minute)
	if len(a.Instances()) != 1 {
		t.Fatal("instance unloaded before the idle timeout")
	}
	a.unloadIdle(time.Now().Add(2*time.Minute), time.Minute)
	if len(a.Instances()) != 0 || e.stopped.Load() != 1 {
		t.Fatalf("idle instance not unloaded: %v, %d stopped", a.Instances(), e.stopped.Load())
	}
}

func TestInstanceLoadErrorRejects(t *testing.T) {
	r := NewRegistry(Config{Apps: []string{"bad"}, Engine: &fakeEngine{fail: errors.New("syntax error")}})
	inst, _ := r.Resolve("bad", "")
	if inst.LoadError() == nil {
		t.Fatal("no load error")
	}
	var d Decision
	inst.Connect(&fakeClient{id: "1"}, nil, func(x Decision) { d = x })
	if d.Accept {
		t.Error("instance without a script accepted a client")
	}
	var callErr error
	inst.Call(&fakeClient{id: "1"}, "m", nil, func(_ any, err error) { callErr = err })
	if !errors.Is(callErr, ErrMethodNotFound) {
		t.Errorf("call: %v", callErr)
	}
}
