package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/webrtc"
)

// Refusal reasons, also the label of the refusal counters.
const (
	refusedTotal     = "max_connections"
	refusedPerIP     = "max_connections_per_ip"
	refusedRate      = "handshakes_per_ip_per_second"
	rateEntriesSweep = 4096 // sweep idle rate buckets past this many
)

// admission decides whether a new connection may start. It is shared by
// every listener so that limits hold across protocols.
type admission struct {
	cfg config.LimitsConfig

	mu      sync.Mutex
	total   int
	perIP   map[netip.Addr]int
	buckets map[netip.Addr]*bucket

	refused map[string]*atomic.Uint64
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newAdmission(cfg config.LimitsConfig) *admission {
	a := &admission{cfg: cfg, perIP: make(map[netip.Addr]int), buckets: make(map[netip.Addr]*bucket),
		refused: make(map[string]*atomic.Uint64)}
	for _, r := range refusalNames {
		a.refused[r] = new(atomic.Uint64)
	}
	return a
}

// refusalNames are the limits whose refusals are counted (the label of
// nimbus_refusals_total). The map is filled once, so counting needs no lock.
var refusalNames = []string{
	refusedTotal, refusedPerIP, refusedRate,
	"streams_per_instance", "publishers_per_connection", "amf", "message_size", "chunk_size",
	"shared_object", "subscriber_queue", "hls_viewers", webrtc.RefusedSessions,
}

// count records a refusal by a limit checked outside admission.
func (a *admission) count(limit string) {
	if n := a.refused[limit]; n != nil {
		n.Add(1)
	}
}

// setConfig changes the limits for connections admitted from now on.
func (a *admission) setConfig(cfg config.LimitsConfig) {
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
}

// addrIP extracts the IP of a connection's remote address.
func addrIP(addr net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// rtmfpAddr converts a session address for admission control.
func rtmfpAddr(a netip.AddrPort) netip.Addr { return a.Addr().Unmap() }

// admit reserves a connection slot for ip. It returns the reason when the
// connection must be refused; otherwise release must be called when the
// connection ends.
func (a *admission) admit(ip netip.Addr, now time.Time) (release func(), refusal string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.cfg.MaxConnections > 0 && a.total >= a.cfg.MaxConnections:
		refusal = refusedTotal
	case a.cfg.MaxConnectionsPerIP > 0 && a.perIP[ip] >= a.cfg.MaxConnectionsPerIP:
		refusal = refusedPerIP
	case !a.takeToken(ip, now):
		refusal = refusedRate
	}
	if refusal != "" {
		a.refused[refusal].Add(1)
		return nil, refusal
	}
	a.total++
	a.perIP[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.total--
			if a.perIP[ip]--; a.perIP[ip] <= 0 {
				delete(a.perIP, ip)
			}
			a.mu.Unlock()
		})
	}, ""
}

// takeToken spends one token of ip's handshake bucket; a.mu is held.
func (a *admission) takeToken(ip netip.Addr, now time.Time) bool {
	rate := float64(a.cfg.HandshakesPerIPPerSecond)
	if rate <= 0 {
		return true
	}
	if len(a.buckets) > rateEntriesSweep {
		for k, b := range a.buckets {
			if now.Sub(b.last) > time.Second {
				delete(a.buckets, k) // refilled to the burst anyway
			}
		}
	}
	b := a.buckets[ip]
	if b == nil {
		b = &bucket{tokens: rate, last: now}
		a.buckets[ip] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Refusals reports how many connections each limit refused.
func (a *admission) Refusals() map[string]uint64 {
	out := make(map[string]uint64, len(a.refused))
	for k, v := range a.refused {
		out[k] = v.Load()
	}
	return out
}

// Connections is the number of admitted connections.
func (a *admission) Connections() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}
