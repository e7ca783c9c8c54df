package web

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/apps"
)

// ServerStats is the server summary: /api/v1/server and the "server" part of
// every live snapshot.
type ServerStats struct {
	Version        string    `json:"version"`
	Started        time.Time `json:"started"`
	UptimeSeconds  float64   `json:"uptime"`
	CPUPercent     float64   `json:"cpuPercent"` // this process, summed over cores
	NumCPU         int       `json:"numCpu"`
	MemoryBytes    uint64    `json:"memoryBytes"` // obtained from the OS by the Go runtime
	HeapBytes      uint64    `json:"heapBytes"`
	PhysicalMemory uint64    `json:"physicalMemory,omitempty"`
	Goroutines     int       `json:"goroutines"`
	// Connections counts connected clients by protocol.
	Connections      map[string]int `json:"connections"`
	TotalConnections int            `json:"totalConnections"`
	// BytesIn and BytesOut count every client's traffic since start,
	// including clients that have left.
	BytesIn  uint64 `json:"bytesIn"`
	BytesOut uint64 `json:"bytesOut"`
	// BandwidthIn and BandwidthOut are bits per second over the last tick.
	BandwidthIn  float64    `json:"bandwidthIn"`
	BandwidthOut float64    `json:"bandwidthOut"`
	Listeners    []Listener `json:"listeners"`
}

// Snapshot is the periodic live update sent to every dashboard.
type Snapshot struct {
	Type    string       `json:"type"` // "stats"
	Time    time.Time    `json:"time"`
	Server  ServerStats  `json:"server"`
	Streams []StreamInfo `json:"streams"`
}

// sampler turns backend snapshots into server statistics. Rates need two
// samples, so it remembers the previous one; the ticker drives it and
// handlers read its latest result.
type sampler struct {
	b       Backend
	version string
	started time.Time
	physMem uint64

	// Traffic of clients that have disconnected, so that totals do not
	// fall when a busy client leaves.
	goneIn, goneOut atomic.Uint64

	mu                  sync.Mutex
	lastAt              time.Time
	lastIn, lastOut     uint64
	lastCPU             time.Duration
	bwIn, bwOut, cpuPct float64
	latest              atomic.Pointer[Snapshot]
}

func newSampler(b Backend, version string, now time.Time) *sampler {
	return &sampler{b: b, version: version, started: now, physMem: physicalMemory(), lastAt: now, lastCPU: cpuTime()}
}

// clientLeft records a departing client's totals.
func (s *sampler) clientLeft(c apps.ClientInfo) {
	s.goneIn.Add(c.BytesIn)
	s.goneOut.Add(c.BytesOut)
}

// sample takes a new snapshot; rates are updated when at least half a
// second has passed since the last one, so that ad-hoc API reads between
// ticks do not produce noisy rates.
func (s *sampler) sample(now time.Time) *Snapshot {
	clients := s.b.Clients()
	st := ServerStats{
		Version: s.version, Started: s.started, UptimeSeconds: now.Sub(s.started).Seconds(),
		NumCPU: runtime.NumCPU(), PhysicalMemory: s.physMem, Goroutines: runtime.NumGoroutine(),
		Connections: make(map[string]int, 2), TotalConnections: len(clients),
		Listeners: s.b.Listeners(),
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.MemoryBytes, st.HeapBytes = ms.Sys, ms.HeapAlloc
	in, out := s.goneIn.Load(), s.goneOut.Load()
	for _, c := range clients {
		st.Connections[c.Protocol]++
		in += c.BytesIn
		out += c.BytesOut
	}
	cpu := cpuTime()

	s.mu.Lock()
	// A client between leaving its instance and being added to the
	// departed totals is briefly counted nowhere: never report a drop.
	in, out = max(in, s.lastIn), max(out, s.lastOut)
	if dt := now.Sub(s.lastAt); dt >= 500*time.Millisecond {
		secs := dt.Seconds()
		s.bwIn = float64(in-s.lastIn) * 8 / secs
		s.bwOut = float64(out-s.lastOut) * 8 / secs
		s.cpuPct = 100 * float64(cpu-s.lastCPU) / float64(dt)
		s.lastAt, s.lastIn, s.lastOut, s.lastCPU = now, in, out, cpu
	}
	st.BytesIn, st.BytesOut = in, out
	st.BandwidthIn, st.BandwidthOut, st.CPUPercent = s.bwIn, s.bwOut, s.cpuPct
	s.mu.Unlock()

	snap := &Snapshot{Type: "stats", Time: now, Server: st, Streams: s.b.Streams()}
	s.latest.Store(snap)
	return snap
}

// current returns the latest snapshot, taking one if there is none yet.
func (s *sampler) current(now time.Time) *Snapshot {
	if snap := s.latest.Load(); snap != nil && now.Sub(snap.Time) < 2*time.Second {
		return snap
	}
	return s.sample(now)
}
