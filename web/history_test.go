package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

func snapshotAt(i int) *Snapshot {
	return &Snapshot{Time: testNow().Add(time.Duration(i) * time.Second), Server: ServerStats{TotalConnections: i}}
}

// TestHistoryRing: the ring hands back its samples oldest first, before
// and after it wraps, and never more than historyLen of them.
func TestHistoryRing(t *testing.T) {
	var h history
	if got := h.samples(); len(got) != 0 {
		t.Fatalf("empty history has %d samples", len(got))
	}
	for _, total := range []int{1, 3, historyLen - 1, historyLen, historyLen + 1, 2*historyLen + 7} {
		h = history{}
		for i := range total {
			h.add(snapshotAt(i))
		}
		got := h.samples()
		want := min(total, historyLen)
		if len(got) != want {
			t.Fatalf("after %d samples: %d held, want %d", total, len(got), want)
		}
		for j, s := range got {
			if i := total - want + j; s.Connections != i || !s.Time.Equal(snapshotAt(i).Time) {
				t.Fatalf("after %d samples: sample %d is %+v, want tick %d", total, j, s, i)
			}
		}
	}
}

// TestHistoryAddNoAllocs: a sample goes into the fixed ring; a server
// running for months allocates nothing for its history.
func TestHistoryAddNoAllocs(t *testing.T) {
	var h history
	snap := snapshotAt(1)
	if allocs := testing.AllocsPerRun(2*historyLen, func() { h.add(snap) }); allocs != 0 {
		t.Errorf("add allocates %.1f times, want 0", allocs)
	}
}

// TestStatsHistoryAPI: /api/v1/stats/history, behind the API's
// authentication, returns the ticks so far in order, and no more than the
// last historyLen of them however long the server runs.
func TestStatsHistoryAPI(t *testing.T) {
	_, _, base := startTest(t, true, func(c *Config) { c.StatsInterval = 2 * time.Millisecond })
	c := browser(t)
	expectStatus(t, do(t, c, "GET", base+"/api/v1/stats/history", nil), http.StatusUnauthorized)

	var h StatsHistory
	testtools.WaitFor(t, 20*time.Second, "a full history", func() bool {
		getJSON(t, c, base+"/api/v1/stats/history", bearer(testToken), &h)
		return len(h.Samples) == historyLen
	})
	time.Sleep(50 * time.Millisecond) // more ticks than the ring holds
	getJSON(t, c, base+"/api/v1/stats/history", bearer(testToken), &h)
	if len(h.Samples) != historyLen {
		t.Fatalf("%d samples, want the last %d", len(h.Samples), historyLen)
	}
	if h.IntervalSeconds != 0.002 {
		t.Errorf("interval %v s, want 0.002", h.IntervalSeconds)
	}
	for i, s := range h.Samples {
		if s.Connections != 2 || s.MemoryBytes == 0 {
			t.Fatalf("sample %d is %+v, want the fake backend's 2 connections and memory in use", i, s)
		}
		if i > 0 && !s.Time.After(h.Samples[i-1].Time) {
			t.Fatalf("sample %d at %v is not after sample %d at %v", i, s.Time, i-1, h.Samples[i-1].Time)
		}
	}
	if age := time.Since(h.Samples[historyLen-1].Time); age > 5*time.Second {
		t.Errorf("the newest sample is %v old", age)
	}
}
