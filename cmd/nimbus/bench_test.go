package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBench runs `nimbus bench` against a real server, with RTMP, RTMPT,
// RTMFP and HTTP-FLV players, and checks that its report describes what
// happened.
func TestBench(t *testing.T) {
	bin := nimbusBin(t)
	addr, udp, tunnel, play := freePort(t), freeUDPPort(t), freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv, _ := startNimbus(t, ctx, bin, addr, udp, "-rtmpt", tunnel, "-play", play)
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for _, url := range []string{"rtmp://" + addr + "/live/b1", "rtmfp://" + udp + "/live/b2", "rtmpt://" + tunnel + "/live/b3",
		"http://" + play + "/live/b4.flv"} {
		var out bytes.Buffer
		stream := strings.TrimSuffix(url[strings.LastIndexByte(url, '/')+1:], ".flv")
		err := bench(ctx, []string{"-url", url, "-publish-url", "rtmp://" + addr + "/live/" + stream,
			"-players", "5", "-ramp", "0", "-warmup", "2s", "-duration", "3s",
			"-server-pid", itoa(srv.Process.Pid)}, &out)
		if err != nil {
			t.Fatalf("bench %s: %v", url, err)
		}
		var r benchResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("bench output %q: %v", out.String(), err)
		}
		if r.PlayersConnected != 5 || r.PlayersKeptUp != 5 || r.LatencySamples == 0 || r.ServerCPUPct <= 0 ||
			r.PublishedKbps < 1000 || r.StartP95ms <= 0 {
			t.Errorf("bench %s: %s", url, out.String())
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
