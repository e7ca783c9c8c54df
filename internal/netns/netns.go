//go:build linux

// Package netns makes a two-host test network for tests that need a real
// bottleneck link: two network namespaces joined by a veth pair, with a
// token-bucket rate limit (tc tbf) on each direction. Sockets are created
// inside a namespace by a thread that enters it; once made they stay there,
// whichever thread uses them. It needs root and iproute2; only tests import it.
package netns

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Link is the two-host network: host A at AddrA, host B at AddrB.
type Link struct {
	a, b         string // namespace names
	AddrA, AddrB string
}

// Available tells why the network cannot be made here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed (iproute2)"
		}
	}
	return ""
}

// New makes the network with rate (a tc rate such as "20mbit") and queue
// latency bound (such as "50ms") on each direction; it is torn down when
// the test ends. The subnet is private to the two namespaces.
func New(t testing.TB, rate, latency string) *Link {
	t.Helper()
	id := fmt.Sprintf("nimbus%d", os.Getpid()%100000)
	l := &Link{a: id + "a", b: id + "b", AddrA: "10.211.0.1", AddrB: "10.211.0.2"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", l.a).Run()
	_ = exec.Command("ip", "netns", "del", l.b).Run()
	run("ip", "netns", "add", l.a)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.a).Run() })
	run("ip", "netns", "add", l.b)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.b).Run() })
	run("ip", "link", "add", id+"va", "netns", l.a, "type", "veth", "peer", "name", id+"vb", "netns", l.b)
	for _, h := range []struct{ ns, dev, addr string }{{l.a, id + "va", l.AddrA}, {l.b, id + "vb", l.AddrB}} {
		run("ip", "-n", h.ns, "addr", "add", h.addr+"/24", "dev", h.dev)
		run("ip", "-n", h.ns, "link", "set", h.dev, "up")
		run("ip", "-n", h.ns, "link", "set", "lo", "up")
		run("tc", "-n", h.ns, "qdisc", "add", "dev", h.dev, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", latency)
	}
	return l
}

// InA runs fn on a thread inside host A's namespace: sockets it creates
// (listeners, dials, packet conns) belong to host A.
func (l *Link) InA(t testing.TB, fn func()) { enter(t, l.a, fn) }

// InB is InA for host B.
func (l *Link) InB(t testing.TB, fn func()) { enter(t, l.b, fn) }

func enter(t testing.TB, name string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	var failed error
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is left locked (and so discarded when the goroutine
		// ends) if it cannot be put back in its own namespace.
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			failed = err
			return
		}
		defer home.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			failed = err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			failed = err
			return
		}
		fn()
		if err := setns(home); err != nil {
			failed = err
			return
		}
		runtime.UnlockOSThread()
	}()
	<-done
	if failed != nil {
		t.Fatalf("netns %s: %v", name, failed)
	}
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }
