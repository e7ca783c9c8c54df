package testtools

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flashOnce sync.Once
	flashPath string
	flashErr  error
)

// FlashLike returns the path of the Flash-like RTMFP test client
// (lrtmfp-peer on librtmfp, which copies Flash Player's wire behaviour),
// built once per test binary by shared/peers/flashlike/build.sh into a
// cache outside the repository. NIMBUS_FLASHLIKE names a prebuilt binary
// instead. As with Require, a missing client fails the test in CI and
// skips it elsewhere.
func FlashLike(t testing.TB) string {
	t.Helper()
	flashOnce.Do(func() {
		if p := os.Getenv("NIMBUS_FLASHLIKE"); p != "" {
			flashPath = p
			return
		}
		script, err := flashLikeScript()
		if err != nil {
			flashErr = err
			return
		}
		var stderr strings.Builder
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			flashErr = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		flashPath = strings.TrimSpace(string(out))
	})
	if flashErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the Flash-like RTMFP client is required in CI: %v", flashErr)
		}
		t.Skipf("Flash-like RTMFP client unavailable: %v", flashErr)
	}
	return flashPath
}

// flashLikeScript finds shared/peers/flashlike/build.sh beside the
// repository (the module root's parent holds shared/).
func flashLikeScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
	script := filepath.Join(filepath.Dir(dir), "shared", "peers", "flashlike", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("flash-like client source: %w", err)
	}
	return script, nil
}

// FlashPeer is one run of the Flash-like client. Its event lines (stdout,
// "EV ...") and librtmfp's log (stderr) are collected as it runs.
type FlashPeer struct {
	Name string
	cmd  *exec.Cmd
	log  Buffer // stderr: librtmfp's log
	mu   sync.Mutex
	evs  []string // stdout event lines without "EV "
	done chan struct{}
	err  error
}

// StartFlashPeer runs the client as `lrtmfp-peer mode url args...`; it is
// killed when ctx ends or the test does.
func StartFlashPeer(t testing.TB, ctx context.Context, name, mode, url string, args ...string) *FlashPeer {
	t.Helper()
	bin := FlashLike(t)
	p := &FlashPeer{Name: name, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, append([]string{mode, url}, args...)...)
	p.cmd.Stderr = &p.log
	p.cmd.WaitDelay = 5 * time.Second
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "EV "); ok {
				p.mu.Lock()
				p.evs = append(p.evs, ev)
				p.mu.Unlock()
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s events:\n%s", p.Name, strings.Join(p.Events(), "\n"))
			t.Logf("%s log (tail):\n%s", p.Name, tail(p.log.String(), 40))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Events returns the event lines so far, without their "EV " prefix.
func (p *FlashPeer) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.evs...)
}

// Event returns the first event line starting with prefix.
func (p *FlashPeer) Event(prefix string) (string, bool) {
	for _, ev := range p.Events() {
		if strings.HasPrefix(ev, prefix) {
			return ev, true
		}
	}
	return "", false
}

// WaitEvent waits for an event line starting with prefix.
func (p *FlashPeer) WaitEvent(t testing.TB, prefix string, timeout time.Duration) string {
	t.Helper()
	var ev string
	WaitFor(t, timeout, p.Name+"'s "+prefix, func() bool {
		var ok bool
		ev, ok = p.Event(prefix)
		return ok
	})
	return ev
}

// Wait waits for the client to end, failing the test after timeout.
func (p *FlashPeer) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v", p.Name, timeout)
	}
}

// Kill ends the client at once (SIGKILL), as a crashed member would.
func (p *FlashPeer) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Log is librtmfp's log so far.
func (p *FlashPeer) Log() string { return p.log.String() }

// Statuses are the onStatus codes the client saw, in order.
func (p *FlashPeer) Statuses() []string {
	var codes []string
	for _, ev := range p.Events() {
		if rest, ok := strings.CutPrefix(ev, "STATUS "); ok {
			code, _, _ := strings.Cut(rest, " ")
			codes = append(codes, code)
		}
	}
	return codes
}

// ConnectTime is the seconds from start to NetConnection.Connect.Success.
func (p *FlashPeer) ConnectTime(t testing.TB) float64 {
	t.Helper()
	ev, ok := p.Event("CONNECTED ")
	if !ok {
		t.Fatalf("%s never connected", p.Name)
	}
	return p.field(t, ev, "t")
}

// FlashSummary is the client's closing count of what it received.
type FlashSummary struct {
	Video, Audio, Data int
	// VideoFirst and VideoLast are the first and last video timestamps
	// (ms), -1 without video.
	VideoFirst, VideoLast int
	Published             int
}

// Summary parses the SUMMARY event, failing the test without one.
func (p *FlashPeer) Summary(t testing.TB) FlashSummary {
	t.Helper()
	ev, ok := p.Event("SUMMARY ")
	if !ok {
		t.Fatalf("%s printed no SUMMARY", p.Name)
	}
	var s FlashSummary
	s.Video = int(p.field(t, ev, "video"))
	s.Audio = int(p.field(t, ev, "audio"))
	s.Data = int(p.field(t, ev, "data"))
	s.Published = int(p.field(t, ev, "published_tags"))
	first, last, _ := strings.Cut(p.str(t, ev, "vts"), "..")
	s.VideoFirst, _ = strconv.Atoi(first)
	s.VideoLast, _ = strconv.Atoi(last)
	return s
}

// PeerID is the client's own peer ID (hex).
func (p *FlashPeer) PeerID(t testing.TB) string {
	t.Helper()
	ev := p.WaitEvent(t, "PEERID ", 10*time.Second)
	return strings.TrimPrefix(ev, "PEERID ")
}

func (p *FlashPeer) str(t testing.TB, ev, key string) string {
	t.Helper()
	for _, f := range strings.Fields(ev) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	t.Fatalf("%s: no %s= in %q", p.Name, key, ev)
	return ""
}

func (p *FlashPeer) field(t testing.TB, ev, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(p.str(t, ev, key), 64)
	if err != nil {
		t.Fatalf("%s: %s in %q: %v", p.Name, key, ev, err)
	}
	return v
}

// VideoBetween is how many video messages the client received between
// from and to seconds after it started, from its once-a-second PROGRESS
// lines (cumulative counts): the count at the last line at or before to,
// less the count at the last line at or before from.
func (p *FlashPeer) VideoBetween(t testing.TB, from, to float64) int {
	t.Helper()
	at := func(x float64) int {
		n := 0
		for _, ev := range p.Events() {
			if !strings.HasPrefix(ev, "PROGRESS ") || !strings.Contains(ev, " video=") {
				continue
			}
			if p.field(t, ev, "t") > x {
				break
			}
			n = int(p.field(t, ev, "video"))
		}
		return n
	}
	return at(to) - at(from)
}
