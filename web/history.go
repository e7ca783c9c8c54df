package web

import (
	"sync"
	"time"
)

// historyLen is how many stats ticks the server keeps for the dashboard's
// charts: ten minutes at the default one-second interval.
const historyLen = 600

// StatsSample is one tick of the server's charted statistics, kept so that
// a dashboard opened now draws the last minutes instead of an empty chart.
type StatsSample struct {
	Time         time.Time `json:"time"`
	BandwidthIn  float64   `json:"bandwidthIn"`  // bit/s
	BandwidthOut float64   `json:"bandwidthOut"` // bit/s
	Connections  int       `json:"connections"`
	CPUPercent   float64   `json:"cpuPercent"`
	MemoryBytes  uint64    `json:"memoryBytes"`
}

// StatsHistory is the body of /api/v1/stats/history.
type StatsHistory struct {
	// IntervalSeconds is the time between samples.
	IntervalSeconds float64 `json:"intervalSeconds"`
	// Samples are the latest ticks, oldest first.
	Samples []StatsSample `json:"samples"`
}

// history is a ring of the latest samples. Samples are values in a fixed
// array, so recording one allocates nothing however long the server runs.
type history struct {
	mu   sync.Mutex
	ring [historyLen]StatsSample
	next int // where the next sample goes
	n    int // samples held, at most historyLen
}

// add records the snapshot's charted figures, dropping the oldest sample
// once the ring is full.
func (h *history) add(snap *Snapshot) {
	h.mu.Lock()
	h.ring[h.next] = StatsSample{
		Time: snap.Time, BandwidthIn: snap.Server.BandwidthIn, BandwidthOut: snap.Server.BandwidthOut,
		Connections: snap.Server.TotalConnections, CPUPercent: snap.Server.CPUPercent, MemoryBytes: snap.Server.MemoryBytes,
	}
	h.next = (h.next + 1) % historyLen
	h.n = min(h.n+1, historyLen)
	h.mu.Unlock()
}

// samples copies the held samples, oldest first.
func (h *history) samples() []StatsSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]StatsSample, 0, h.n)
	start := (h.next - h.n + historyLen) % historyLen
	if start+h.n <= historyLen {
		return append(out, h.ring[start:start+h.n]...)
	}
	out = append(out, h.ring[start:]...)
	return append(out, h.ring[:h.next]...)
}
