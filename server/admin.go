package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
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
		if l.addr != nil {
			out = append(out, web.Listener{Protocol: l.proto, Addr: l.addr.String()})
		}
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
	for _, a := range b.s.apps.Apps() {
		for _, inst := range a.Instances() {
			var clients map[string]apps.ClientInfo
			for _, st := range inst.Streams().Streams() {
				si := web.NewStreamInfo(a.Name(), inst.Name(), st.Info())
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
