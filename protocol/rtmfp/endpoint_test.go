package rtmfp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
)

func testConfig() Config {
	return Config{
		HandshakeRetransmit: 200 * time.Millisecond,
		HandshakeTimeout:    10 * time.Second,
		CloseTimeout:        time.Second,
		CloseLinger:         300 * time.Millisecond,
	}
}

func listen(t testing.TB, cfg Config) *Endpoint {
	t.Helper()
	e, err := Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func addrOf(e *Endpoint) netip.AddrPort { return addrPortOf(e.LocalAddr()) }

func urlOf(e *Endpoint) string { return fmt.Sprintf("rtmfp://%s/app", addrOf(e)) }

// pair dials server from a fresh client endpoint and returns both sessions.
func pair(t testing.TB, scfg, ccfg Config) (server, client *Endpoint, ss, cs *Session) {
	t.Helper()
	server = listen(t, scfg)
	client = listen(t, ccfg)
	ss, cs = connect(t, server, client, 10*time.Second)
	return server, client, ss, cs
}

// connect dials server from client and returns the server's and the
// client's session.
func connect(t testing.TB, server, client *Endpoint, timeout time.Duration) (ss, cs *Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	accepted := make(chan *Session, 1)
	go func() {
		s, err := server.Accept(ctx)
		if err == nil {
			accepted <- s
		}
		close(accepted)
	}()
	cs, err := client.Dial(ctx, urlOf(server))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ss = <-accepted
	if ss == nil {
		t.Fatal("no session accepted")
	}
	return ss, cs
}

// transfer sends total bytes in messages of size msgSize over one flow and
// checks the SHA-256 of the received stream.
func transfer(t testing.TB, cs, ss *Session, total, msgSize int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f, err := cs.OpenFlow([]byte("TC\x04\x00"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	errc := make(chan error, 1)
	go func() {
		msg := make([]byte, msgSize)
		for sent := 0; sent < total; {
			n := min(msgSize, total-sent)
			for i := range msg[:n] {
				msg[i] = byte(sent + i*7)
			}
			want.Write(msg[:n])
			if err := f.WriteContext(ctx, msg[:n], WriteOptions{}); err != nil {
				errc <- err
				return
			}
			sent += n
		}
		errc <- f.Close()
	}()
	rf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(rf.Metadata()) != "TC\x04\x00" {
		t.Fatalf("metadata %q", rf.Metadata())
	}
	got := sha256.New()
	n := 0
	for {
		m, err := rf.ReadMessage(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", n, err)
		}
		if m.Gap {
			t.Fatal("gap in a reliable flow")
		}
		got.Write(m.Data)
		n += len(m.Data)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n != total || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("received %d bytes, checksum mismatch=%v", n, !bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

// leakCheck verifies, after every other cleanup (endpoints close in
// cleanups registered later), that no goroutine is left behind.
func leakCheck(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// Test 1: our client and server complete the handshake with every DH group
// and both integrity modes, and move data intact over one flow. One case
// carries the big 50 MB transfer; the others move 2 MB each to keep the
// package's -race run short.
func TestHandshakeMatrix(t *testing.T) {
	for _, g := range flashcrypto.AllGroups {
		for _, mode := range []struct {
			name   string
			policy flashcrypto.Policy
		}{
			{"checksum", flashcrypto.Policy{}},
			{"hmac+sseq", flashcrypto.Policy{HMAC: true, SSEQ: true}},
		} {
			t.Run(fmt.Sprintf("group%d/%s", g, mode.name), func(t *testing.T) {
				leakCheck(t)
				scfg, ccfg := testConfig(), testConfig()
				ccfg.DHGroups = []flashcrypto.GroupID{g}
				ccfg.Integrity = mode.policy
				_, _, ss, cs := pair(t, scfg, ccfg)
				if cs.PeerID() != ss.Endpoint().PeerID() || ss.PeerID() != cs.Endpoint().PeerID() {
					t.Fatal("peer IDs do not match certificates")
				}
				if cs.NearNonce() != ss.FarNonce() || cs.FarNonce() != ss.NearNonce() {
					t.Fatal("session nonces do not mirror")
				}
				total := 2 << 20
				if g == flashcrypto.Group2 && mode.policy.HMAC {
					total = bigTransfer
				}
				transfer(t, cs, ss, total, 64<<10)
				cs.Close()
				<-ss.Done()
			})
		}
	}
}

// Many initiators handshaking at once all get their own session.
func TestConcurrentHandshakes(t *testing.T) {
	leakCheck(t)
	scfg := testConfig()
	scfg.DHGroups = []flashcrypto.GroupID{flashcrypto.Group2}
	server := listen(t, scfg)
	const n = 12
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		client := listen(t, testConfig())
		go func() {
			s, err := client.Dial(ctx, urlOf(server))
			if err == nil {
				var f *SendFlow
				if f, err = s.OpenFlow([]byte("x"), FlowOptions{}); err == nil {
					err = f.Write([]byte("hi"), WriteOptions{})
				}
			}
			errs <- err
		}()
	}
	ids := make(map[[32]byte]bool)
	for i := 0; i < n; i++ {
		s, err := server.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ids[s.PeerID()] {
			t.Fatal("two sessions with one peer ID")
		}
		ids[s.PeerID()] = true
		rf, err := s.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rf.ReadMessage(ctx); err != nil || string(m.Data) != "hi" {
			t.Fatalf("read %q %v", m.Data, err)
		}
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A dead session's ID stays retired for a while, so late packets of it can
// never reach a new session that drew the same ID.
func TestSessionIDRetired(t *testing.T) {
	leakCheck(t)
	e := listen(t, testConfig())
	s := newSession(e, false)
	e.wg.Add(1) // as a running session holds
	id, err := e.registerSession(s)
	if err != nil || id == 0 {
		t.Fatalf("register: %d %v", id, err)
	}
	s.nearID = id
	e.removeSession(s)
	e.mu.RLock()
	until, retired := e.retired[id]
	_, live := e.sessions[id]
	e.mu.RUnlock()
	if live || !retired || time.Until(until) < time.Minute {
		t.Fatalf("ID %#x live %v retired %v until %v", id, live, retired, until)
	}
}

// Sessions work over IPv6 too, including a dual-stack socket reached over
// IPv4 (addresses arrive IPv4-mapped and are written back mapped).
func TestIPv6AndDualStack(t *testing.T) {
	leakCheck(t)
	for _, c := range []struct{ listen, client, url string }{
		{"[::1]:0", "[::1]:0", "rtmfp://[::1]:%d/app"},
		{"[::]:0", "127.0.0.1:0", "rtmfp://127.0.0.1:%d/app"},
	} {
		server, err := Listen("udp", c.listen, testConfig())
		if err != nil {
			t.Skipf("no IPv6: %v", err)
		}
		defer server.Close()
		client, err := Listen("udp", c.client, testConfig())
		if err != nil {
			t.Skipf("no IPv6: %v", err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		go server.Accept(ctx)
		s, err := client.Dial(ctx, fmt.Sprintf(c.url, addrOf(server).Port()))
		if err != nil {
			t.Fatalf("%s: %v", c.listen, err)
		}
		s.Close()
	}
}
