package apps

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
)

// DefaultInstance is the instance name used when a connect URL names none.
const DefaultInstance = "_definst_"

// Config describes the applications a server serves.
type Config struct {
	// Apps are application names served even without a folder in Dir.
	Apps  []string
	Media media.Config
	// Dir is the applications directory; every folder in it is an
	// application. Empty means only Apps are served, without scripts.
	Dir string
	// IdleTimeout unloads an instance that has had no clients this long
	// (default 5 minutes).
	IdleTimeout time.Duration
	// PollInterval is how often Run looks for new applications and changed
	// script files (default 1 s).
	PollInterval time.Duration
	// Engine starts application scripts; nil serves every application
	// without one.
	Engine Engine
	// Log receives application lifecycle events; nil discards them.
	Log *zap.Logger
	// Events, when set, is told about connections and publications in
	// every instance (see Events).
	Events Events
	// SharedObjects bounds each remote SharedObject.
	SharedObjects SharedObjectLimits
	// KeepClientsOnChange makes a changed script restart in place
	// (Instance.RestartScript) instead of unloading the application, whose
	// clients would be disconnected as by AMS's reloadApp.
	KeepClientsOnChange bool
}

// SharedObjectLimits bound one SharedObject; zero fields take defaults.
type SharedObjectLimits struct {
	// MaxSlots is how many slots a SharedObject may hold (default 10000).
	MaxSlots int
	// MaxBytes bounds the AMF-encoded size of all its slots (default 4 MiB).
	MaxBytes int
}

func (c Config) withDefaults() Config {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	if c.SharedObjects.MaxSlots <= 0 {
		c.SharedObjects.MaxSlots = 10000
	}
	if c.SharedObjects.MaxBytes <= 0 {
		c.SharedObjects.MaxBytes = 4 << 20
	}
	return c
}

// Registry is the set of applications.
type Registry struct {
	cfg Config
	log *zap.Logger

	mu   sync.Mutex
	apps map[string]*App
}

// NewRegistry builds the applications named in cfg and those found in
// cfg.Dir. It starts no goroutine: Run does the polling and idle unloading.
func NewRegistry(cfg Config) *Registry {
	cfg = cfg.withDefaults()
	r := &Registry{cfg: cfg, log: cfg.Log, apps: make(map[string]*App)}
	for _, name := range cfg.Apps {
		r.apps[name] = r.newApp(name, true)
	}
	r.scan()
	return r
}

func (r *Registry) newApp(name string, configured bool) *App {
	return &App{name: name, reg: r, configured: configured, instances: make(map[string]*Instance)}
}

// Resolve returns the instance app/instance, creating (and starting) the
// instance on first use. An unknown application gives ErrUnknownApp.
func (r *Registry) Resolve(app, instance string) (*Instance, error) {
	a := r.App(app)
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	if instance == "" {
		instance = DefaultInstance
	}
	return a.instance(instance), nil
}

// App returns the named application, or nil.
func (r *Registry) App(name string) *App {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apps[name]
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

// Reload re-reads an application's folder and restarts it: its instances
// are unloaded (their clients are told NetConnection.Connect.AppShutdown)
// and the next connect starts a fresh instance with the current script.
func (r *Registry) Reload(app string) error {
	r.scan()
	a := r.App(app)
	if a == nil {
		return fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	a.mu.Lock()
	a.stamp = a.scriptStamp()
	a.mu.Unlock()
	r.log.Info("reloading application", zap.String("app", app))
	a.unloadAll()
	return nil
}

// RestartScripts restarts the script runtime of every running instance
// (Instance.RestartScript), keeping clients and live streams: what SIGHUP
// does, unlike Reload.
func (r *Registry) RestartScripts() {
	for _, a := range r.Apps() {
		for _, inst := range a.Instances() {
			inst.RestartScript()
		}
	}
}

// Unload unloads every instance of an application (AMS unloadApp). The
// application stays served: the next connect starts a new instance.
func (r *Registry) Unload(app string) error {
	a := r.App(app)
	if a == nil {
		return fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	r.log.Info("unloading application", zap.String("app", app))
	a.unloadAll()
	return nil
}

// UnloadInstance unloads one instance of an application (AMS unloadApp
// with an instance name); "" names the default instance. Unloading an
// instance that is not loaded does nothing.
func (r *Registry) UnloadInstance(app, instance string) error {
	a := r.App(app)
	if a == nil {
		return fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	if instance == "" {
		instance = DefaultInstance
	}
	a.mu.Lock()
	inst := a.instances[instance]
	if inst != nil {
		delete(a.instances, instance)
	}
	a.mu.Unlock()
	if inst != nil {
		r.log.Info("unloading instance", zap.String("instance", inst.Path()))
		inst.unload()
	}
	return nil
}

// Run polls the applications directory for new, removed and changed
// applications and unloads idle instances until ctx ends; then it unloads
// every instance (saving persistent SharedObjects and stopping scripts)
// and returns.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, a := range r.Apps() {
				a.unloadAll()
			}
			return
		case now := <-t.C:
			for _, name := range r.scan() {
				a := r.App(name)
				if a == nil {
					continue
				}
				r.log.Info("application files changed; reloading", zap.String("app", name),
					zap.Bool("keep_clients", r.cfg.KeepClientsOnChange))
				if r.cfg.KeepClientsOnChange {
					for _, inst := range a.Instances() {
						inst.RestartScript()
					}
				} else {
					a.unloadAll()
				}
			}
			for _, a := range r.Apps() {
				a.unloadIdle(now, r.cfg.IdleTimeout)
			}
		}
	}
}

// scan brings the application set in line with the directory and returns
// the applications whose script files changed since the last scan.
func (r *Registry) scan() (changed []string) {
	found := map[string]string{}
	if r.cfg.Dir != "" {
		entries, err := os.ReadDir(r.cfg.Dir)
		if err != nil && !os.IsNotExist(err) {
			r.log.Warn("cannot read applications directory", zap.String("dir", r.cfg.Dir), zap.Error(err))
		}
		for _, e := range entries {
			if e.IsDir() && validAppName(e.Name()) {
				found[e.Name()] = filepath.Join(r.cfg.Dir, e.Name())
			}
		}
	}
	var removed []*App
	r.mu.Lock()
	for name, dir := range found {
		if r.apps[name] == nil {
			r.apps[name] = r.newApp(name, false)
			r.log.Info("application found", zap.String("app", name), zap.String("dir", dir))
		}
	}
	for name, a := range r.apps {
		a.mu.Lock()
		dir, ok := found[name]
		switch {
		case ok && a.dir != dir:
			a.dir, a.stamp = dir, a.scriptStampLocked(dir)
		case ok:
			if s := a.scriptStampLocked(dir); s != a.stamp {
				a.stamp = s
				changed = append(changed, name)
			}
		case a.dir != "":
			a.dir, a.stamp = "", ""
			removed = append(removed, a)
			if !a.configured {
				delete(r.apps, name)
			}
		}
		a.mu.Unlock()
	}
	r.mu.Unlock()
	for _, a := range removed {
		r.log.Info("application folder removed", zap.String("app", a.name))
		a.unloadAll()
	}
	return changed
}

// validAppName accepts folder names usable as an RTMP application name.
func validAppName(name string) bool {
	return name != "" && !strings.HasPrefix(name, ".") && !strings.ContainsAny(name, "?#/\\ ")
}

// App is one application.
type App struct {
	name       string
	reg        *Registry
	configured bool

	mu        sync.Mutex
	dir       string // "" without a folder
	stamp     string // script files' names, sizes and times at the last scan
	instances map[string]*Instance
}

// Name is the application's name.
func (a *App) Name() string { return a.name }

// Dir is the application's folder, or "" when it has none.
func (a *App) Dir() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dir
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

func (a *App) instance(name string) *Instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	inst := a.instances[name]
	if inst == nil {
		inst = newInstance(a, name, a.dir)
		a.instances[name] = inst
	}
	return inst
}

func (a *App) unloadAll() {
	a.mu.Lock()
	insts := make([]*Instance, 0, len(a.instances))
	for _, i := range a.instances {
		insts = append(insts, i)
	}
	clear(a.instances)
	a.mu.Unlock()
	for _, i := range insts {
		i.unload()
	}
}

func (a *App) unloadIdle(now time.Time, idle time.Duration) {
	var idleInsts []*Instance
	a.mu.Lock()
	for name, i := range a.instances {
		if since, ok := i.idleSince(); ok && now.Sub(since) >= idle {
			delete(a.instances, name)
			idleInsts = append(idleInsts, i)
		}
	}
	a.mu.Unlock()
	for _, i := range idleInsts {
		a.reg.log.Info("unloading idle instance", zap.String("instance", i.Path()))
		i.unload()
	}
}

func (a *App) scriptStamp() string { return a.scriptStampLocked(a.dir) }

// scriptStampLocked summarises the script files under dir (names, sizes,
// modification times), skipping the SharedObject store, so that a change to
// any of them is seen by comparing two stamps.
func (a *App) scriptStampLocked(dir string) string {
	if dir == "" {
		return ""
	}
	var sb strings.Builder
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != dir && (d.Name() == sharedObjectDir || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".js" && ext != ".asc" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		sb.WriteString(path)
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatInt(info.Size(), 10))
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatInt(info.ModTime().UnixNano(), 10))
		sb.WriteByte('\n')
		return nil
	})
	return sb.String()
}
