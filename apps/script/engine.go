package script

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
)

// Config tunes the script engine.
type Config struct {
	// Timeout bounds one handler invocation (default 5 s).
	Timeout time.Duration
	// QueueSize bounds the events waiting for an instance's script
	// (default 1024).
	QueueSize int
	// PendingTimeout rejects a connect that onConnect left pending and
	// the script never decided (default 30 s).
	PendingTimeout time.Duration
	// MaxTimers bounds setInterval/setTimeout timers per instance
	// (default 1024).
	MaxTimers int
	// Subscriber bounds the queue through which a server-side stream
	// (Stream.play) takes a live stream's frames.
	Subscriber media.SubscriberConfig
	// Recordings serves Stream.record and Stream.length; without it,
	// record is refused (NetStream.Record.NoAccess) and length is 0.
	Recordings Recordings
	// Log receives trace() output and script errors; nil discards them.
	Log *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.PendingTimeout <= 0 {
		c.PendingTimeout = 30 * time.Second
	}
	if c.MaxTimers <= 0 {
		c.MaxTimers = 1024
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c
}

// Engine starts application scripts; it implements apps.Engine.
type Engine struct {
	cfg Config
}

// NewEngine returns an engine with cfg's limits.
func NewEngine(cfg Config) *Engine { return &Engine{cfg: cfg.withDefaults()} }

// mainFiles are the entry points looked for, in order.
var mainFiles = []string{"main.js", "main.asc"}

// Start compiles the instance's main script and starts its runtime, which
// runs the script and then application.onAppStart. An application without
// a main script gets nil Hooks (the defaults); a script that does not
// compile is an error.
func (e *Engine) Start(inst *apps.Instance) (apps.Hooks, error) {
	dir := inst.Dir()
	if dir == "" {
		return nil, nil
	}
	var path string
	var src []byte
	for _, name := range mainFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		path, src = filepath.Join(dir, name), b
		break
	}
	if path == "" {
		return nil, nil
	}
	prog, err := goja.Compile(filepath.Base(path), string(src), false)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", path, err)
	}
	h := newHost(e.cfg, inst)
	if !h.post(event{run: func() { h.boot(prog) }}) {
		return nil, ErrBusy
	}
	go h.loop()
	return h, nil
}

// event is one unit of work for the script goroutine. cancel, when set,
// runs instead of run for an event still queued when the script stops, so
// that every caller waiting for a decision or a reply gets one.
type event struct {
	run    func()
	cancel func()
}

// host is one instance's runtime and the state of its host objects. Fields
// below vm belong to the script goroutine.
type host struct {
	cfg  Config
	inst *apps.Instance
	log  *zap.Logger

	mu      sync.Mutex // guards stopped and sends on events
	stopped bool
	events  chan event
	stop    chan struct{}
	done    chan struct{}

	// Watchdog: gen changes around every handler, so a timer that fires
	// late cannot interrupt the next one.
	imu sync.Mutex
	gen atomic.Uint64

	vm          *goja.Runtime
	app         *goja.Object
	clientProto *goja.Object
	objectProto *goja.Object
	clients     map[apps.Client]*client
	byObject    map[*goja.Object]*client
	order       []*client // accepted clients, in accept order
	timers      map[int64]*timer
	lastTimer   int64
	sos         map[string]*sharedObject
	streams     map[string]*stream
}

func newHost(cfg Config, inst *apps.Instance) *host {
	vm := goja.New()
	vm.SetMaxCallStackSize(1 << 12)
	return &host{
		cfg: cfg, inst: inst, vm: vm,
		log:      cfg.Log.With(zap.String("instance", inst.Path())),
		events:   make(chan event, cfg.QueueSize),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		clients:  make(map[apps.Client]*client),
		byObject: make(map[*goja.Object]*client),
		timers:   make(map[int64]*timer),
		sos:      make(map[string]*sharedObject),
		streams:  make(map[string]*stream),
	}
}

// post queues ev without blocking; false means the script has stopped or
// its queue is full, and ev will never run.
func (h *host) post(ev event) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	select {
	case h.events <- ev:
		return true
	default:
		return false
	}
}

func (h *host) loop() {
	defer close(h.done)
	for {
		select {
		case ev := <-h.events:
			h.run(ev.run)
		case <-h.stop:
			h.shutdown()
			return
		}
	}
}

// shutdown runs onAppStop, cancels what is still queued and releases the
// host objects. No event can be queued any more: stopped is set.
func (h *host) shutdown() {
	h.run(func() {
		if h.app == nil {
			return // stopped before boot ran
		}
		if fn, ok := goja.AssertFunction(h.app.Get("onAppStop")); ok {
			info := h.vm.NewObject()
			_ = info.Set("code", "Application.Shutdown")
			_ = info.Set("level", "status")
			_, err := fn(h.app, info)
			h.check("onAppStop", err)
		}
	})
drain:
	for {
		select {
		case ev := <-h.events:
			if ev.cancel != nil {
				ev.cancel()
			}
		default:
			break drain
		}
	}
	for id, t := range h.timers {
		t.t.Stop()
		delete(h.timers, id)
	}
	for _, c := range h.clients {
		// A connect still undecided is rejected, or its client would wait
		// for a script that is gone.
		h.settle(c, apps.Decision{Description: "Application is shutting down."})
		c.stopPending()
	}
	for name, so := range h.sos {
		so.so.Release()
		delete(h.sos, name)
	}
	for name, s := range h.streams {
		s.stopPlaylist()
		s.stopRecording()
		delete(h.streams, name)
	}
}

// run runs f on the script goroutine under the watchdog. A panic from host
// code is logged, not propagated: a script must never take the server down.
func (h *host) run(f func()) {
	gen := h.gen.Add(1)
	t := time.AfterFunc(h.cfg.Timeout, func() {
		h.imu.Lock()
		if h.gen.Load() == gen {
			h.vm.Interrupt(ErrTimeout)
		}
		h.imu.Unlock()
	})
	defer func() {
		t.Stop()
		h.imu.Lock()
		h.gen.Add(1)
		h.vm.ClearInterrupt()
		h.imu.Unlock()
		if r := recover(); r != nil {
			h.log.Error("script host panic", zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	f()
}

// check logs a handler's error and tells whether there was none.
func (h *host) check(what string, err error) bool {
	if err == nil {
		return true
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		h.log.Error("script interrupted", zap.String("handler", what), zap.Duration("timeout", h.cfg.Timeout), zap.Error(err))
	} else {
		h.log.Error("script error", zap.String("handler", what), zap.Error(err))
	}
	return false
}

// boot runs the main program and onAppStart.
func (h *host) boot(prog *goja.Program) {
	h.installGlobals()
	if _, err := h.vm.RunProgram(prog); !h.check("main", err) {
		return
	}
	// A restarted script (Instance.RestartScript) adopts the clients
	// already connected, as accepted clients, without running onConnect.
	for _, c := range h.inst.Clients() {
		if h.clients[c] == nil {
			jc := h.newClient(c)
			jc.joined = true
			h.order = append(h.order, jc)
		}
	}
	if len(h.order) > 0 {
		h.syncClientList()
	}
	if fn, ok := goja.AssertFunction(h.app.Get("onAppStart")); ok {
		_, err := fn(h.app)
		h.check("onAppStart", err)
	}
}

// Stop implements apps.Hooks: onAppStop runs, queued events are cancelled
// and Stop returns once the script goroutine has ended.
func (h *host) Stop() {
	h.mu.Lock()
	already := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if !already {
		close(h.stop)
	}
	<-h.done
}
