package apps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// recorder is a subscriber that records what it is sent as
// "v<version> Event key=value" strings, one per event.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) SendSharedObject(m *protocol.SharedObjectMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range m.Events {
		s := fmt.Sprintf("v%d %v", m.Version, ev.Type)
		switch ev.Type {
		case protocol.SOChange:
			s += fmt.Sprintf(" %s=%v", ev.Key, ev.Value)
		case protocol.SOSuccess, protocol.SORemove:
			s += " " + ev.Key
		case protocol.SOSendMessage:
			s += fmt.Sprintf(" %s%v", ev.Key, ev.Args)
		}
		r.got = append(r.got, s)
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func testInstance(t *testing.T, dir string) *Instance {
	t.Helper()
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "chat"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRegistry(Config{Apps: []string{"chat"}, Dir: dir})
	inst, err := r.Resolve("chat", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.App("chat").unloadAll() })
	return inst
}

func TestSharedObjectFlows(t *testing.T) {
	type step struct {
		who    string // "a", "b" or "script"
		op     string // use, set, remove, send, release, lock, unlock, clear
		key    string
		value  any
		wantA  []string
		wantB  []string
		errLck bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"change reaches the others, requester gets success", []step{
			{who: "a", op: "use", wantA: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "b", op: "use", wantB: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "a", op: "set", key: "x", value: 1.0, wantA: []string{"v1 Success x"}, wantB: []string{"v1 Change x=1"}},
			{who: "b", op: "set", key: "y", value: "s", wantA: []string{"v2 Change y=s"}, wantB: []string{"v2 Success y"}},
			{who: "a", op: "remove", key: "x", wantA: []string{"v3 Success x"}, wantB: []string{"v3 Remove x"}},
		}},
		{"use sends the whole state", []step{
			{who: "script", op: "set", key: "b", value: 2.0},
			{who: "script", op: "set", key: "a", value: 1.0},
			{who: "a", op: "use", wantA: []string{"v2 UseSuccess", "v2 Clear", "v2 Change a=1", "v2 Change b=2"}},
		}},
		{"send message reaches everyone", []step{
			{who: "a", op: "use", wantA: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "b", op: "use", wantB: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "a", op: "send", key: "onMsg", value: "hi", wantA: []string{"v0 SendMessage onMsg[hi]"}, wantB: []string{"v0 SendMessage onMsg[hi]"}},
		}},
		{"script lock batches and refuses clients", []step{
			{who: "a", op: "use", wantA: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "script", op: "set", key: "k", value: "old", wantA: []string{"v1 Change k=old"}},
			{who: "script", op: "lock"},
			{who: "script", op: "set", key: "k", value: "new"},
			{who: "script", op: "set", key: "j", value: 5.0},
			{who: "a", op: "set", key: "k", value: "mine", errLck: true, wantA: []string{"v3 Change k=new"}},
			{who: "script", op: "unlock", wantA: []string{"v3 Change k=new", "v3 Change j=5"}},
		}},
		{"script clear and delete", []step{
			{who: "a", op: "use", wantA: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "script", op: "set", key: "k", value: true, wantA: []string{"v1 Change k=true"}},
			{who: "script", op: "set", key: "k", value: nil, wantA: []string{"v2 Remove k"}},
			{who: "script", op: "set", key: "gone", value: nil},
			{who: "script", op: "set", key: "k", value: 1.0, wantA: []string{"v3 Change k=1"}},
			{who: "script", op: "clear", wantA: []string{"v4 Clear"}},
		}},
		{"released subscriber hears nothing", []step{
			{who: "a", op: "use", wantA: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "b", op: "use", wantB: []string{"v0 UseSuccess", "v0 Clear"}},
			{who: "b", op: "release"},
			{who: "a", op: "set", key: "x", value: 1.0, wantA: []string{"v1 Success x"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := testInstance(t, "")
			so, err := inst.SharedObject("room", false)
			if err != nil {
				t.Fatal(err)
			}
			subs := map[string]*recorder{"a": {}, "b": {}}
			for i, s := range tc.steps {
				sub := subs[s.who]
				var err error
				switch s.op {
				case "use":
					err = so.Subscribe(sub)
				case "release":
					so.Unsubscribe(sub)
				case "set":
					if s.who == "script" {
						so.Set(s.key, s.value)
					} else {
						err = so.RequestChange(sub, s.key, s.value)
					}
				case "remove":
					err = so.RequestRemove(sub, s.key)
				case "send":
					so.SendMessage(sub, s.key, []any{s.value})
				case "lock":
					so.Lock()
				case "unlock":
					so.Unlock()
				case "clear":
					so.Clear()
				}
				if s.errLck != (err == ErrLocked) || (err != nil && err != ErrLocked) {
					t.Fatalf("step %d: err = %v", i, err)
				}
				if got := subs["a"].take(); !reflect.DeepEqual(got, s.wantA) {
					t.Errorf("step %d (%s %s): a got %q, want %q", i, s.who, s.op, got, s.wantA)
				}
				if got := subs["b"].take(); !reflect.DeepEqual(got, s.wantB) {
					t.Errorf("step %d (%s %s): b got %q, want %q", i, s.who, s.op, got, s.wantB)
				}
			}
		})
	}
}

func TestSharedObjectOnSyncAndMessages(t *testing.T) {
	inst := testInstance(t, "")
	so, _ := inst.SharedObject("room", false)
	var syncs []SyncEvent
	var msgs []string
	so.SetHandlers(func(ev []SyncEvent) { syncs = append(syncs, ev...) },
		func(h string, args []any) { msgs = append(msgs, fmt.Sprint(h, args)) })
	a := &recorder{}
	_ = so.Subscribe(a)
	_ = so.RequestChange(a, "k", 1.0)
	_ = so.RequestChange(a, "k", 2.0)
	_ = so.RequestRemove(a, "k")
	so.SendMessage(a, "hello", []any{"x"})
	so.SendMessage(nil, "fromScript", nil) // the script's own send does not call back
	want := []SyncEvent{{"change", "k", nil}, {"change", "k", 1.0}, {"delete", "k", 2.0}}
	if !reflect.DeepEqual(syncs, want) {
		t.Errorf("onSync got %+v, want %+v", syncs, want)
	}
	if !reflect.DeepEqual(msgs, []string{"hello[x]"}) {
		t.Errorf("handlers got %q", msgs)
	}
}

func TestSharedObjectLifetime(t *testing.T) {
	inst := testInstance(t, "")
	so, _ := inst.SharedObject("temp", false)
	if _, err := inst.SharedObject("temp", true); err == nil || !strings.Contains(err.Error(), "persistence") {
		t.Errorf("other persistence: err = %v, want ErrBadPersistence", err)
	}
	if _, err := inst.SharedObject("", false); err == nil {
		t.Error("empty name accepted")
	}
	a := &recorder{}
	_ = so.Subscribe(a)
	so.Unsubscribe(a)
	if again, _ := inst.SharedObject("temp", false); again == so {
		t.Error("temporary SharedObject without subscribers was kept")
	}
	held, _ := inst.SharedObject("held", false)
	held.Hold()
	_ = held.Subscribe(a)
	held.Unsubscribe(a)
	if again, _ := inst.SharedObject("held", false); again != held {
		t.Error("SharedObject held by the script was dropped")
	}
	inst.unload()
	if err := held.Subscribe(a); err != ErrUnloaded {
		t.Errorf("subscribe after unload: %v", err)
	}
	if _, err := inst.SharedObject("x", false); err != ErrUnloaded {
		t.Errorf("SharedObject after unload: %v", err)
	}
}

// TestSharedObjectPersistence: every acknowledged change is on disk before
// the Success goes out, and a new instance (a restarted server) restores
// version and slots with their AMF types.
func TestSharedObjectPersistence(t *testing.T) {
	dir := t.TempDir()
	inst := testInstance(t, dir)
	so, err := inst.SharedObject("users/list", true)
	if err != nil {
		t.Fatal(err)
	}
	a := &checkingSub{t: t, store: inst.store, name: "users/list"}
	_ = so.Subscribe(a)
	value := amf.Object{{Key: "name", Value: "Alice"}, {Key: "tags", Value: amf.StrictArray{"x", 2.0}}}
	if err := so.RequestChange(a, "alice", value); err != nil {
		t.Fatal(err)
	}
	_ = so.RequestChange(a, "bob", 2.0)
	_ = so.RequestRemove(a, "bob")
	so.Set("count", 1.0)
	if a.checked != 3 {
		t.Fatalf("checked %d acknowledgements, want 3", a.checked)
	}
	inst.unload()

	r := NewRegistry(Config{Dir: dir})
	inst2, err := r.Resolve("chat", "")
	if err != nil {
		t.Fatal(err)
	}
	defer inst2.unload()
	so2, err := inst2.SharedObject("users/list", true)
	if err != nil {
		t.Fatal(err)
	}
	if so2.Version() != 4 {
		t.Errorf("restored version %d, want 4", so2.Version())
	}
	if got, _ := so2.Get("alice"); !reflect.DeepEqual(got, value) {
		t.Errorf("restored alice = %#v, want %#v", got, value)
	}
	if names := so2.Names(); !reflect.DeepEqual(names, []string{"alice", "count"}) {
		t.Errorf("restored names %q", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "chat", "sharedobjects", "_definst_", "users%2Flist.so")); err != nil {
		t.Errorf("store file: %v", err)
	}
}

// checkingSub verifies, whenever it receives a Success, that the file on
// disk already holds the acknowledged version.
type checkingSub struct {
	t       *testing.T
	store   *soStore
	name    string
	checked int
}

func (c *checkingSub) SendSharedObject(m *protocol.SharedObjectMessage) {
	if m.Events[0].Type != protocol.SOSuccess {
		return
	}
	probe := newSharedObject(&Instance{}, c.name, true)
	if err := c.store.load(probe); err != nil {
		c.t.Errorf("load during ack: %v", err)
	}
	if probe.version != m.Version {
		c.t.Errorf("Success v%d sent while the file holds v%d", m.Version, probe.version)
	}
	c.checked++
}

func TestSharedObjectStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := &soStore{dir: dir}
	write := func(b []byte) {
		if err := os.WriteFile(s.path("x"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good, err := s.save(nil, "x", 3, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := (&soStore{dir: t.TempDir()}).save(nil, "y", 1, nil)
	for name, body := range map[string][]byte{
		"no magic":    good[1:],
		"truncated":   good[:len(good)-2],
		"other name":  other,
		"wrong event": append(append([]byte{}, good...), 8, 0, 0, 0, 0),
	} {
		write(body)
		so := newSharedObject(&Instance{}, "x", true)
		if err := s.load(so); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
	if err := s.load(newSharedObject(&Instance{}, "missing", true)); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

func BenchmarkSharedObjectRequestChange(b *testing.B) {
	r := NewRegistry(Config{Apps: []string{"chat"}})
	inst, _ := r.Resolve("chat", "")
	so, _ := inst.SharedObject("room", false)
	subs := []*nopSub{{}, {}, {}, {}}
	for _, s := range subs {
		_ = so.Subscribe(s)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = so.RequestChange(subs[0], "k", 1.0)
	}
}

type nopSub struct{ sent int }

func (s *nopSub) SendSharedObject(*protocol.SharedObjectMessage) { s.sent++ }

// TestSharedObjectChangeAllocs: a client's change of a temporary
// SharedObject, fanned out to its subscribers, allocates nothing in the
// SharedObject itself (subscribers encode their own messages).
func TestSharedObjectChangeAllocs(t *testing.T) {
	r := NewRegistry(Config{Apps: []string{"chat"}})
	inst, _ := r.Resolve("chat", "")
	so, _ := inst.SharedObject("room", false)
	subs := []*nopSub{{}, {}, {}}
	for _, s := range subs {
		_ = so.Subscribe(s)
	}
	var v any = 1.0
	if n := testing.AllocsPerRun(100, func() { _ = so.RequestChange(subs[0], "k", v) }); n != 0 {
		t.Errorf("RequestChange: %v allocations, want 0", n)
	}
	if subs[0].sent != subs[1].sent || subs[1].sent != subs[2].sent || subs[1].sent < 100 {
		t.Errorf("messages sent: %d, %d, %d", subs[0].sent, subs[1].sent, subs[2].sent)
	}
}

func TestSharedObjectLimits(t *testing.T) {
	r := NewRegistry(Config{Apps: []string{"chat"}, SharedObjects: SharedObjectLimits{MaxSlots: 2, MaxBytes: 100}})
	inst, err := r.Resolve("chat", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.App("chat").unloadAll() })
	so, _ := inst.SharedObject("room", false)
	a, b := &recorder{}, &recorder{}
	_ = so.Subscribe(a)
	_ = so.Subscribe(b)
	a.take()
	b.take()
	for _, k := range []string{"x", "y"} {
		if err := so.RequestChange(a, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if err := so.RequestChange(a, "z", "v"); !errors.Is(err, ErrSOLimit) {
		t.Fatalf("third slot: %v, want ErrSOLimit", err)
	}
	if err := so.RequestChange(a, "x", strings.Repeat("w", 200)); !errors.Is(err, ErrSOLimit) {
		t.Fatalf("oversized value: %v, want ErrSOLimit", err)
	}
	got := a.take()
	if want := []string{"v1 Success x", "v2 Success y", "v2 Status", "v2 Remove z", "v2 Status", "v2 Change x=v"}; !slicesEqual(got, want) {
		t.Fatalf("requester got %q, want %q", got, want)
	}
	if got := b.take(); len(got) != 2 {
		t.Fatalf("the other subscriber saw refused changes: %q", got)
	}
	// Within bounds again after a removal.
	if err := so.RequestRemove(a, "y"); err != nil {
		t.Fatal(err)
	}
	if err := so.RequestChange(a, "z", "v"); err != nil {
		t.Fatalf("after a removal: %v", err)
	}
}

// failingFile is a temporary file on a full disk.
type failingFile struct{ name string }

func (f failingFile) Write([]byte) (int, error) { return 0, syscall.ENOSPC }
func (f failingFile) Sync() error               { return nil }
func (f failingFile) Close() error              { return nil }
func (f failingFile) Name() string              { return f.name }

func TestSharedObjectSaveOnFullDiskKeepsLastGoodCopy(t *testing.T) {
	dir := t.TempDir()
	s := &soStore{dir: dir}
	if _, err := s.save(nil, "x", 1, map[string]any{"k": "good"}); err != nil {
		t.Fatal(err)
	}
	s.create = func(dir, pattern string) (tempFile, error) {
		return failingFile{name: filepath.Join(dir, "never-created")}, nil
	}
	if _, err := s.save(nil, "x", 2, map[string]any{"k": "lost"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("save on a full disk: %v, want ENOSPC", err)
	}
	so := newSharedObject(&Instance{}, "x", true)
	if err := s.load(so); err != nil {
		t.Fatal(err)
	}
	if so.version != 1 || so.slots["k"] != "good" {
		t.Fatalf("after a failed save the file holds v%d %v, want the last good v1", so.version, so.slots)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the store, want only the good copy", len(entries))
	}
}

func slicesEqual(a, b []string) bool { return reflect.DeepEqual(a, b) }
