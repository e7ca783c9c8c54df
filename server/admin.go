package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/netconn"
	"github.com/nimbus-media/nimbus/web"
)

// Errors of admin actions; they reach operators through the admin API.
var (
	// ErrKickedByAdmin is the cause logged for a client an operator
	// disconnected.
	ErrKickedByAdmin = errors.New("server: disconnected by an administrator")
	// ErrStoppedByAdmin is the reason given to a publisher an operator
	// stopped.
	ErrStoppedByAdmin = errors.New("server: stream stopped by an administrator")
)

// adminBackend is the admin server's view of the running server: it walks
// the application registry for snapshots and performs the actions.
type adminBackend struct{ s *Server }

var _ web.Backend = adminBackend{}

// publisherID is implemented by publishers that can name their connection.
type publisherID interface{ ClientID() string }

func (b adminBackend) Listeners() []web.Listener {
	var out []web.Listener
	for _, l := range []struct {
		proto string
		addr  net.Addr
	}{{"rtmp", addrOf(b.s.rtmpLn)}, {"rtmps", addrOf(b.s.rtmpsLn)}, {"rtmpt", b.s.RTMPTAddr()}, {"rtmfp", b.s.rtmfpAddr()}, {"http", b.s.HTTPAddr()}, {"play", b.s.PlayAddr()}} {
		if l.addr == nil {
			continue
		}
		wl := web.Listener{Protocol: l.proto, Addr: l.addr.String()}
		if l.proto == "play" {
			wl.TLS = b.s.config().Play.CertFile != ""
			wl.Serves = []string{"http-flv", "ws-flv"}
			if b.s.hls != nil {
				wl.Serves = append(wl.Serves, "hls")
			}
			if b.s.webrtc != nil {
				wl.Serves = append(wl.Serves, "webrtc")
			}
		}
		out = append(out, wl)
	}
	return out
}

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

func (s *Server) rtmfpAddr() net.Addr {
	if s.rtmfpEP == nil {
		return nil
	}
	return s.rtmfpEP.LocalAddr()
}

func (b adminBackend) Apps() []web.AppInfo {
	var out []web.AppInfo
	for _, a := range b.s.apps.Apps() {
		ai := web.AppInfo{Name: a.Name(), Instances: []web.InstanceInfo{}}
		for _, inst := range a.Instances() {
			ii := web.InstanceInfo{Name: inst.Name(), Path: inst.Path(), Since: inst.Created(), Clients: len(inst.Clients())}
			for _, st := range inst.Streams().Streams() {
				if st.Published() {
					ii.Streams++
				}
			}
			ai.Clients += ii.Clients
			ai.Streams += ii.Streams
			ai.Instances = append(ai.Instances, ii)
		}
		out = append(out, ai)
	}
	return out
}

func (b adminBackend) Clients() []web.ClientInfo {
	var out []web.ClientInfo
	for _, a := range b.s.apps.Apps() {
		for _, inst := range a.Instances() {
			for _, c := range inst.Clients() {
				out = append(out, web.NewClientInfo(c.Info()))
			}
		}
	}
	return out
}

func (b adminBackend) Streams() []web.StreamInfo {
	var out []web.StreamInfo
	recs := b.recordings()
	for _, a := range b.s.apps.Apps() {
		for _, inst := range a.Instances() {
			var clients map[string]apps.ClientInfo
			for _, st := range inst.Streams().Streams() {
				si := web.NewStreamInfo(a.Name(), inst.Name(), st.Info())
				si.Recording = recs.Active(inst, st.Name()) != nil
				if p, ok := st.Publisher().(publisherID); ok {
					if clients == nil {
						clients = clientsByID(inst)
					}
					ci := clients[p.ClientID()]
					si.Publisher, si.PublisherProtocol, si.PublisherAddress = p.ClientID(), ci.Protocol, ci.RemoteAddr
				}
				out = append(out, si)
			}
		}
	}
	return out
}

func clientsByID(inst *apps.Instance) map[string]apps.ClientInfo {
	cs := inst.Clients()
	m := make(map[string]apps.ClientInfo, len(cs))
	for _, c := range cs {
		m[c.ID()] = c.Info()
	}
	return m
}

func (b adminBackend) SharedObjects() []web.SharedObjectInfo {
	var out []web.SharedObjectInfo
	for _, a := range b.s.apps.Apps() {
		for _, inst := range a.Instances() {
			for _, so := range inst.SharedObjects() {
				out = append(out, web.SharedObjectInfo{
					App: a.Name(), Instance: inst.Name(), Name: so.Name(), Persistent: so.Persistent(),
					Version: so.Version(), Slots: so.Size(), Subscribers: so.Subscribers(),
				})
			}
		}
	}
	return out
}

// Refusals counts the clients each limit refused.
func (b adminBackend) Refusals() map[string]uint64 { return b.s.admit.Refusals() }

// NetGroups lists the RTMFP NetGroups the server bootstraps, each in its
// application instance.
func (b adminBackend) NetGroups() []web.NetGroupInfo {
	stats := b.s.groups.Stats()
	out := make([]web.NetGroupInfo, 0, len(stats))
	for _, g := range stats {
		app, inst, _ := strings.Cut(g.Key.Instance, "/")
		out = append(out, web.NetGroupInfo{App: app, Instance: inst, ID: g.Key.ID.String(), Members: g.Members})
	}
	return out
}

func (b adminBackend) DisconnectClient(id string) error {
	for _, a := range b.s.apps.Apps() {
		for _, inst := range a.Instances() {
			for _, c := range inst.Clients() {
				if c.ID() == id {
					c.Disconnect(protocol.ConnectClosed, "Disconnected by the administrator.", ErrKickedByAdmin)
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: client %q", web.ErrNotFound, id)
}

func (b adminBackend) instance(app, instance string) (*apps.Instance, error) {
	for _, a := range b.s.apps.Apps() {
		if a.Name() != app {
			continue
		}
		for _, inst := range a.Instances() {
			if inst.Name() == instance {
				return inst, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: instance %s/%s", web.ErrNotFound, app, instance)
}

func (b adminBackend) StopStream(app, instance, name string) error {
	inst, err := b.instance(app, instance)
	if err != nil {
		return err
	}
	st := inst.Streams().Get(name)
	var pub media.Publisher
	if st != nil {
		pub = st.Publisher()
	}
	if pub == nil {
		return fmt.Errorf("%w: no publisher on %s/%s/%s", web.ErrNotFound, app, instance, name)
	}
	pub.Evict(ErrStoppedByAdmin)
	return nil
}

// recordings is the streams folders as the NetConnection layer has them,
// so that a recording the API starts goes to the file, under the recorder,
// that the stream's publisher or a script would have used.
func (b adminBackend) recordings() netconn.Recordings { return b.s.core.Load().Recordings() }

// StartRecording records a live stream until StopRecording or its
// publisher stops; the outcome is logged, as for record = "all" (there is
// nobody to send a status to).
func (b adminBackend) StartRecording(app, instance, name string, appendMode bool) error {
	inst, err := b.instance(app, instance)
	if err != nil {
		return err
	}
	log := b.s.log.With(zap.String("instance", inst.Path()), zap.String("stream", name))
	rec, err := b.recordings().Start(inst, name, appendMode, func(err error) {
		if err != nil {
			log.Error("recording failed; the stream stays live", zap.Error(err))
			return
		}
		log.Info("recording stopped")
	})
	switch {
	case errors.Is(err, netconn.ErrNotLive):
		return fmt.Errorf("%w: no publisher on %s/%s/%s", web.ErrNotFound, app, instance, name)
	case errors.Is(err, recorder.ErrBusy), errors.Is(err, netconn.ErrCannotRecord):
		return fmt.Errorf("%w: %w", web.ErrConflict, err)
	case err != nil:
		return err
	}
	log.Info("recording, started by an administrator", zap.String("file", rec.Path()), zap.Bool("append", appendMode))
	return nil
}

// StopRecording stops whichever recorder writes the stream's file: the
// API's, the publisher's or record = "all"'s.
func (b adminBackend) StopRecording(app, instance, name string) error {
	inst, err := b.instance(app, instance)
	if err != nil {
		return err
	}
	rec := b.recordings().Active(inst, name)
	if rec == nil {
		return fmt.Errorf("%w: %s/%s/%s is not being recorded", web.ErrNotFound, app, instance, name)
	}
	rec.Stop()
	return nil
}

// Recordings lists the streams folders of the configured applications,
// of every instance that has one, loaded or not.
func (b adminBackend) Recordings(app, instance string) ([]web.RecordingInfo, error) {
	var names []string
	if app != "" {
		if b.s.apps.App(app) == nil {
			return nil, fmt.Errorf("%w: application %q", web.ErrNotFound, app)
		}
		names = []string{app}
	} else {
		for _, a := range b.s.apps.Apps() {
			names = append(names, a.Name())
		}
	}
	recs := b.recordings()
	if recs.AppsDir == "" {
		return nil, nil // nothing can have been recorded
	}
	var out []web.RecordingInfo
	for _, a := range names {
		insts := []string{instance}
		if instance == "" {
			var err error
			if insts, err = recs.Instances(a); err != nil {
				return nil, err
			}
		}
		for _, i := range insts {
			files, err := recs.List(a, i)
			if errors.Is(err, netconn.ErrBadFolder) {
				return nil, fmt.Errorf("%w: %w", web.ErrNotFound, err)
			}
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				out = append(out, web.RecordingInfo{
					App: f.App, Instance: f.Instance, Name: f.Name, Size: f.Size,
					Duration: f.Duration.Seconds(), Modified: f.Modified, Recording: f.Recording,
				})
			}
		}
	}
	return out, nil
}

// OpenRecording opens a file of a configured application's streams
// folder. Whatever keeps it from opening (missing, outside the folder,
// not a regular file) is a 404 for the client and a log line here.
func (b adminBackend) OpenRecording(app, instance, name string) (*os.File, error) {
	if b.s.apps.App(app) == nil {
		return nil, fmt.Errorf("%w: application %q", web.ErrNotFound, app)
	}
	f, err := b.recordings().Open(app, instance, name)
	if err != nil {
		b.s.log.Info("recording download refused", zap.String("app", app), zap.String("instance", instance),
			zap.String("file", name), zap.Error(err))
		return nil, fmt.Errorf("%w: recording %s/%s/%s", web.ErrNotFound, app, instance, name)
	}
	return f, nil
}

// UnloadApp unloads an instance, or with instance "" every instance of
// app (AMS unloadApp): clients are told NetConnection.Connect.AppShutdown,
// scripts stop and the next connect starts a fresh instance.
func (b adminBackend) UnloadApp(app, instance string) error {
	if instance == "" {
		return notFound(b.s.apps.Unload(app))
	}
	if _, err := b.instance(app, instance); err != nil {
		return err
	}
	return notFound(b.s.apps.UnloadInstance(app, instance))
}

// ReloadApp re-reads the application's folder and restarts it (AMS
// reloadApp). Scripts are per application, so reloading one instance
// unloads it and the next connect starts it with the current script.
func (b adminBackend) ReloadApp(app, instance string) error {
	if instance == "" {
		return notFound(b.s.apps.Reload(app))
	}
	return b.UnloadApp(app, instance)
}

// notFound marks an unknown application as web.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, apps.ErrUnknownApp) {
		return fmt.Errorf("%w: %w", web.ErrNotFound, err)
	}
	return err
}

// listenHTTP opens the admin listener when one is configured.
func (s *Server) listenHTTP() error {
	if s.webErr != nil {
		return fmt.Errorf("admin http: %w", s.webErr)
	}
	if s.web == nil {
		return nil
	}
	return s.web.Listen()
}

// serveHTTP runs the admin server until ctx ends; the channel yields its
// result (nil at once when there is no admin server).
func (s *Server) serveHTTP(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	if s.web == nil {
		done <- nil
		return done
	}
	go func() { done <- s.web.Serve(ctx) }()
	return done
}

// HTTPAddr is the bound admin HTTP address, nil when there is none.
func (s *Server) HTTPAddr() net.Addr {
	if s.web == nil {
		return nil
	}
	return s.web.Addr()
}
