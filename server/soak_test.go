//go:build soak

package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestSoak (make soak; not in CI): 300 players joining and leaving over
// both protocols and 5 publishers reconnecting, for SOAK_DURATION
// (default 30m). Goroutines, heap and file descriptors must come back to
// their starting level.
func TestSoak(t *testing.T) {
	d := 30 * time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServerLog(t, nil, zap.NewNop())
	before := snapshot()
	t.Logf("start: %s", before)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for p := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				soakPublish(ctx, ts, fmt.Sprintf("soak%d", p), time.Duration(10+rand.IntN(50))*time.Second)
			}
		}()
	}
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				soakPlay(ctx, ts, fmt.Sprintf("soak%d", i%5), i%2 == 0, time.Duration(2+rand.IntN(30))*time.Second)
			}
		}()
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			t.Logf("running: %s", snapshot())
		}
	}
	wg.Wait()
	// RTMFP sessions closed by their peers linger (CloseLinger, 19 s) to
	// answer retransmitted Close chunks before they release everything.
	after := snapshot()
	for deadline := time.Now().Add(time.Minute); after.goroutines > before.goroutines+10 && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		after = snapshot()
	}
	t.Logf("end:   %s", after)
	if after.goroutines > before.goroutines+10 || after.fds > before.fds+10 || after.heap > 2*before.heap+8<<20 {
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("resources not back to their starting level: before %s, after %s\n%s", before, after, stacks.String())
	}
}

type usage struct {
	goroutines, fds int
	heap            uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, %d KB heap", u.goroutines, u.fds, u.heap>>10)
}

func snapshot() usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, _ := os.ReadDir("/proc/self/fd")
	return usage{goroutines: runtime.NumGoroutine(), fds: len(fds), heap: ms.HeapAlloc}
}

func soakPublish(ctx context.Context, ts *testServer, name string, d time.Duration) {
	c, err := rtmp.Dial(ctx, ts.url, rtmp.ClientConfig{})
	if err != nil {
		return
	}
	defer c.Close()
	id, err := c.CreateStream()
	if err != nil || c.Publish(id, name, "live") != nil {
		return
	}
	go func() {
		for {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	end := time.Now().Add(d)
	for i := 0; ctx.Err() == nil && time.Now().Before(end); i++ {
		key := i%50 == 0
		p := make([]byte, 4000)
		p[0], p[1] = 0x27, 1
		if key {
			p[0] = 0x17
		}
		if c.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: id, Timestamp: uint32(i * 40), Payload: p}) != nil {
			return
		}
		time.Sleep(40 * time.Millisecond)
	}
}

func soakPlay(ctx context.Context, ts *testServer, name string, rtmfp bool, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var c interface {
		CreateStream() (uint32, error)
		Play(uint32, string, float64) error
		ReadMessage() (protocol.Message, error)
		Close() error
	}
	if rtmfp {
		mc, err := tc.Dial(ctx, ts.mfp, tc.ClientConfig{LocalAddr: "127.0.0.1:0"})
		if err != nil {
			return
		}
		c = mc
	} else {
		rc, err := rtmp.Dial(ctx, ts.url, rtmp.ClientConfig{})
		if err != nil {
			return
		}
		c = rc
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	defer c.Close()
	id, err := c.CreateStream()
	if err != nil || c.Play(id, name, -2000) != nil {
		return
	}
	for ctx.Err() == nil {
		if _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}
