package apps

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// Instance is one running instance of an application.
type Instance struct {
	app     *App
	name    string
	dir     string
	created time.Time
	streams *media.Registry
	log     *zap.Logger
	hooks   atomic.Pointer[hooksRef] // swapped by RestartScript
	restart sync.Mutex               // one script restart at a time
	loadErr error
	store   *soStore // nil when the application has no folder
	soLimit SharedObjectLimits

	mu       sync.Mutex
	clients  map[Client]struct{}
	idle     time.Time // when the last client left; zero while clients are connected
	unloaded bool
	sos      map[string]*SharedObject
}

func newInstance(a *App, name, dir string) *Instance {
	reg := a.reg
	inst := &Instance{
		app: a, name: name, dir: dir, created: time.Now(),
		log:     reg.log.With(zap.String("instance", a.name+"/"+name)),
		clients: make(map[Client]struct{}),
		sos:     make(map[string]*SharedObject),
		soLimit: reg.cfg.SharedObjects,
	}
	mcfg := reg.cfg.Media
	if ev := reg.cfg.Events; ev != nil {
		mcfg.Events = instanceEvents{inst: inst, ev: ev}
	}
	inst.streams = media.NewRegistry(mcfg)
	inst.idle = inst.created
	if dir != "" {
		inst.store = &soStore{dir: filepath.Join(dir, sharedObjectDir, name), create: createTemp}
	}
	// The engine runs with the application locked (so one instance
	// starts at a time); it must not call back into the App.
	if reg.cfg.Engine != nil {
		h, err := reg.cfg.Engine.Start(inst)
		switch {
		case err != nil:
			inst.loadErr = err
			inst.log.Error("application script failed to load", zap.Error(err))
		case h != nil:
			inst.hooks.Store(&hooksRef{h})
		}
	}
	inst.log.Info("instance started")
	return inst
}

// hooksRef boxes the current Hooks for atomic swapping.
type hooksRef struct{ Hooks }

// h returns the instance's current application logic.
func (i *Instance) h() Hooks {
	if r := i.hooks.Load(); r != nil {
		return r.Hooks
	}
	return defaultHooks{}
}

// RestartScript replaces the instance's script runtime with a fresh one
// loaded from the script file, keeping the instance's clients, streams and
// SharedObjects: the new script runs and gets onAppStart; clients already
// connected stay connected (they are not replayed through onConnect). The
// old runtime stops first, so a connect arriving in between is refused as
// during an unload. A script that no longer compiles leaves the instance
// without one, with the error logged.
func (i *Instance) RestartScript() {
	e := i.app.reg.cfg.Engine
	if e == nil {
		return
	}
	i.restart.Lock()
	defer i.restart.Unlock()
	i.mu.Lock()
	gone := i.unloaded
	i.mu.Unlock()
	if gone {
		return
	}
	i.h().Stop()
	h, err := e.Start(i)
	i.mu.Lock()
	i.loadErr = err
	i.mu.Unlock()
	if err != nil {
		i.log.Error("application script failed to load", zap.Error(err))
	}
	if h == nil {
		h = defaultHooks{}
	}
	i.hooks.Store(&hooksRef{h})
	i.log.Info("script restarted")
}

// App is the instance's application.
func (i *Instance) App() *App { return i.app }

// Name is the instance name.
func (i *Instance) Name() string { return i.name }

// Path is "app/instance".
func (i *Instance) Path() string { return i.app.name + "/" + i.name }

// Dir is the application's folder when the instance started ("" without
// one). Engines read the script from it.
func (i *Instance) Dir() string { return i.dir }

// Created is when the instance started (AMS "loaded since").
func (i *Instance) Created() time.Time { return i.created }

// Streams is the instance's stream registry.
func (i *Instance) Streams() *media.Registry { return i.streams }

// LoadError is why the application's script could not be loaded, or nil.
func (i *Instance) LoadError() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.loadErr
}

// Log is the instance's logger.
func (i *Instance) Log() *zap.Logger { return i.log }

// AddClient records an accepted client. A client accepted by an instance
// that has meanwhile been unloaded is told NetConnection.Connect.AppShutdown.
func (i *Instance) AddClient(c Client) {
	i.mu.Lock()
	if i.unloaded {
		i.mu.Unlock()
		c.Disconnect(protocol.ConnectAppShutdown, "Application is shutting down.", ErrUnloaded)
		return
	}
	i.clients[c] = struct{}{}
	i.idle = time.Time{}
	i.mu.Unlock()
	if ev := i.app.reg.cfg.Events; ev != nil {
		ev.ClientConnected(i, c)
	}
}

// RemoveClient forgets a client.
func (i *Instance) RemoveClient(c Client) {
	i.mu.Lock()
	_, ok := i.clients[c]
	delete(i.clients, c)
	if len(i.clients) == 0 && i.idle.IsZero() {
		i.idle = time.Now()
	}
	i.mu.Unlock()
	if ev := i.app.reg.cfg.Events; ev != nil && ok {
		ev.ClientDisconnected(i, c)
	}
}

// Clients returns the connected clients sorted by ID.
func (i *Instance) Clients() []Client {
	i.mu.Lock()
	out := make([]Client, 0, len(i.clients))
	for c := range i.clients {
		out = append(out, c)
	}
	i.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].ID() < out[b].ID() })
	return out
}

func (i *Instance) idleSince() (time.Time, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.idle, !i.idle.IsZero()
}

// Connect asks the application whether to accept c (AMS
// application.onConnect); see Hooks.Connect. An instance whose script did
// not load rejects everyone.
func (i *Instance) Connect(c Client, args []any, decide func(Decision)) {
	if i.LoadError() != nil {
		decide(Decision{Description: "Application failed to load."})
		return
	}
	i.h().Connect(c, args, decide)
}

// Disconnect reports that a client whose connect was accepted, or is
// still pending, has gone, and forgets it.
func (i *Instance) Disconnect(c Client) {
	i.RemoveClient(c)
	i.h().Disconnect(c)
}

// Publish reports that c started publishing stream (application.onPublish).
func (i *Instance) Publish(c Client, stream string) { i.h().Publish(c, stream) }

// Unpublish reports that c stopped publishing stream.
func (i *Instance) Unpublish(c Client, stream string) { i.h().Unpublish(c, stream) }

// Call runs a client-callable method of the application; see Hooks.Call.
func (i *Instance) Call(c Client, method string, args []any, reply func(any, error)) {
	i.h().Call(c, method, args, reply)
}

// maxSharedObjectName bounds a SharedObject name (it becomes a file name).
const maxSharedObjectName = 200

// SharedObject returns the instance's SharedObject called name, creating it
// (and, when persistent, loading its saved state) on first use. Asking for
// an existing SharedObject with the other persistence gives
// ErrBadPersistence.
func (i *Instance) SharedObject(name string, persistent bool) (*SharedObject, error) {
	if name == "" || len(name) > maxSharedObjectName {
		return nil, fmt.Errorf("%w: %q", ErrSharedObjectName, name)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.unloaded {
		return nil, ErrUnloaded
	}
	if so := i.sos[name]; so != nil {
		if so.persistent != persistent {
			return nil, fmt.Errorf("%w: %q", ErrBadPersistence, name)
		}
		return so, nil
	}
	so := newSharedObject(i, name, persistent)
	if persistent && i.store != nil {
		if err := i.store.load(so); err != nil {
			i.log.Error("cannot restore shared object; starting empty", zap.String("so", name), zap.Error(err))
		}
	}
	i.sos[name] = so
	return so, nil
}

// SharedObjects returns the instance's SharedObjects sorted by name.
func (i *Instance) SharedObjects() []*SharedObject {
	i.mu.Lock()
	out := make([]*SharedObject, 0, len(i.sos))
	for _, so := range i.sos {
		out = append(out, so)
	}
	i.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

// release drops a temporary SharedObject nobody uses any more.
func (i *Instance) release(so *SharedObject) {
	i.mu.Lock()
	if i.sos[so.name] == so {
		delete(i.sos, so.name)
	}
	i.mu.Unlock()
}

// unload stops the instance: clients are told AppShutdown, the script
// stops (onAppStop) and SharedObjects lose their subscribers.
func (i *Instance) unload() {
	i.mu.Lock()
	if i.unloaded {
		i.mu.Unlock()
		return
	}
	i.unloaded = true
	clients := make([]Client, 0, len(i.clients))
	for c := range i.clients {
		clients = append(clients, c)
	}
	sos := make([]*SharedObject, 0, len(i.sos))
	for _, so := range i.sos {
		sos = append(sos, so)
	}
	i.mu.Unlock()
	for _, c := range clients {
		c.Disconnect(protocol.ConnectAppShutdown, "Application is shutting down.", ErrUnloaded)
	}
	i.h().Stop()
	for _, so := range sos {
		so.close()
	}
	i.log.Info("instance unloaded")
}
