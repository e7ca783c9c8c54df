package apps

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nimbus-media/nimbus/media"
)

// DefaultInstance is the instance name used when a connect URL names none.
const DefaultInstance = "_definst_"

// ErrUnknownApp is returned for an application name the server does not serve.
var ErrUnknownApp = errors.New("apps: application is not defined")

// Config describes the applications a server serves.
type Config struct {
	// Apps are the application names; each is served without further
	// configuration.
	Apps  []string
	Media media.Config
	// Events, when set, is told about connections and publications in
	// every instance (see Events).
	Events Events
}

// Registry is the set of applications.
type Registry struct {
	cfg  Config
	mu   sync.Mutex
	apps map[string]*App
}

// NewRegistry builds the applications named in cfg.
func NewRegistry(cfg Config) *Registry {
	r := &Registry{cfg: cfg, apps: make(map[string]*App)}
	for _, name := range cfg.Apps {
		r.apps[name] = &App{name: name, reg: r, instances: make(map[string]*Instance)}
	}
	return r
}

// Resolve returns the instance app/instance, creating the instance on first
// use. An unknown application gives ErrUnknownApp.
func (r *Registry) Resolve(app, instance string) (*Instance, error) {
	r.mu.Lock()
	a := r.apps[app]
	r.mu.Unlock()
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	if instance == "" {
		instance = DefaultInstance
	}
	return a.instance(instance), nil
}

// Apps returns the applications sorted by name.
func (r *Registry) Apps() []*App {
	r.mu.Lock()
	out := make([]*App, 0, len(r.apps))
	for _, a := range r.apps {
		out = append(out, a)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// App is one application.
type App struct {
	name      string
	reg       *Registry
	mu        sync.Mutex
	instances map[string]*Instance
}

// Name is the application's name.
func (a *App) Name() string { return a.name }

func (a *App) instance(name string) *Instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	inst := a.instances[name]
	if inst == nil {
		inst = &Instance{app: a, name: name, created: time.Now(), clients: make(map[Client]struct{})}
		mcfg := a.reg.cfg.Media
		if ev := a.reg.cfg.Events; ev != nil {
			mcfg.Events = instanceEvents{inst: inst, ev: ev}
		}
		inst.streams = media.NewRegistry(mcfg)
		a.instances[name] = inst
	}
	return inst
}

// Instances returns the application's live instances sorted by name.
func (a *App) Instances() []*Instance {
	a.mu.Lock()
	out := make([]*Instance, 0, len(a.instances))
	for _, i := range a.instances {
		out = append(out, i)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Client is an instance's view of a connected client.
type Client interface {
	ID() string
	Protocol() string
	// Info is a snapshot for monitoring.
	Info() ClientInfo
	// Disconnect tells the client why (a NetConnection.Connect.* code) and
	// closes its connection. Safe from any goroutine.
	Disconnect(code, description string, cause error)
}

// ClientInfo describes a connected client for monitoring.
type ClientInfo struct {
	ID         string
	Protocol   string // "rtmp", "rtmfp"
	RemoteAddr string
	Agent      string // flashVer from connect
	App        string // "app/instance"
	Since      time.Time
	BytesIn    uint64
	BytesOut   uint64
	RTT        time.Duration // RTMFP's smoothed RTT; 0 where the transport has none
}

// Instance is one running instance of an application.
type Instance struct {
	app     *App
	name    string
	created time.Time
	streams *media.Registry

	mu      sync.Mutex
	clients map[Client]struct{}
}

// App is the instance's application.
func (i *Instance) App() *App { return i.app }

// Name is the instance name.
func (i *Instance) Name() string { return i.name }

// Created is when the instance started (AMS "loaded since").
func (i *Instance) Created() time.Time { return i.created }

// Path is "app/instance".
func (i *Instance) Path() string { return i.app.name + "/" + i.name }

// Streams is the instance's stream registry.
func (i *Instance) Streams() *media.Registry { return i.streams }

// AddClient records a connected client.
func (i *Instance) AddClient(c Client) {
	i.mu.Lock()
	i.clients[c] = struct{}{}
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
