package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/internal/testnet"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/rtmfpconn"
)

// p2pClientConfig retransmits handshakes quickly: NAT traversal loses the
// first IHellos by design.
func p2pClientConfig(conn net.PacketConn) tc.ClientConfig {
	return tc.ClientConfig{PacketConn: conn, Endpoint: rtmfp.Config{HandshakeRetransmit: 150 * time.Millisecond}}
}

// connectPeer connects a client, reports its local address with
// setPeerInfo as Flash does, and checks the peer IDs in the connect result.
func connectPeer(t *testing.T, ts *testServer, conn net.PacketConn) *tc.Client {
	t.Helper()
	c := dialRTMFP(t, ts.mfp, p2pClientConfig(conn))
	id := c.Session().Endpoint().PeerID()
	if got := c.Info().String("connectionID"); got != hex.EncodeToString(id[:]) {
		t.Fatalf("connectionID %q, want the client's peer ID %x", got, id)
	}
	server := ts.rtmfpEP.PeerID()
	if got := c.Info().String("serverFingerprint"); got != hex.EncodeToString(server[:]) {
		t.Fatalf("serverFingerprint %q", got)
	}
	local := c.Session().Endpoint().LocalAddr().String()
	if err := c.Command(0, "setPeerInfo", 0, nil, local, "not an address", ""); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 5*time.Second, "setPeerInfo", func() bool { return ts.rv.Len() > 0 && peerInfoOf(ts, id) == local })
	return c
}

// peerInfoOf returns the first setPeerInfo address the server holds for a
// peer.
func peerInfoOf(ts *testServer, id [32]byte) string {
	c, ok := ts.rv.Lookup(id)
	if !ok {
		return ""
	}
	if a := c.ReportedAddrs(); len(a) > 0 {
		return a[0]
	}
	return ""
}

// serverUserBytes sums the NetConnection traffic the server carried for
// every RTMFP client.
func serverUserBytes(ts *testServer) uint64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var n uint64
	for c := range ts.conns {
		if rc, ok := c.(*rtmfpconn.Conn); ok {
			st := rc.Stats()
			n += st.BytesIn + st.BytesOut
		}
	}
	return n
}

// TestP2PDirectStream (issue 5, test 1): two of our clients connect; B
// opens a session to A by peer ID alone, through the server's
// introduction; the session runs directly between them (the server
// carries no user data once it has introduced them); B plays a stream A
// publishes with DIRECT_CONNECTIONS. Run on loopback, across two NATs with
// port-restricted filtering, across a symmetric NAT (address-and-port-
// dependent mapping) facing an address-restricted one in either role
// (two symmetric NATs defeat hole punching altogether), and between two
// hosts on one LAN behind a NAT that does not hairpin, where only the
// private addresses from setPeerInfo work. Also: a name the peer does not
// publish gets StreamNotFound, and IHellos naming an unknown peer or the
// sender itself are not answered.
func TestP2PDirectStream(t *testing.T) {
	portRestricted := testnet.NATConfig{Mapping: testnet.EndpointIndependent, Filtering: testnet.AddressPortDependent}
	symmetric := testnet.NATConfig{Mapping: testnet.AddressPortDependent, Filtering: testnet.AddressPortDependent}
	addressRestricted := testnet.NATConfig{Mapping: testnet.EndpointIndependent, Filtering: testnet.AddressDependent}
	tests := []struct {
		name       string
		a, b       *testnet.NATConfig
		sameLAN    bool // B is behind A's NAT
		wantViaLAN bool
	}{
		{name: "loopback"},
		{name: "port-restricted NATs", a: &portRestricted, b: &portRestricted},
		{name: "symmetric NAT and address-restricted NAT", a: &symmetric, b: &addressRestricted},
		{name: "address-restricted NAT and symmetric NAT", a: &addressRestricted, b: &symmetric},
		{name: "same LAN without hairpin", a: &portRestricted, sameLAN: true, wantViaLAN: true},
	}
	ts := startServer(t, nil) // one server for every case: its shutdown takes seconds
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var connA, connB net.PacketConn
			var hostA *testnet.Host
			publicA := netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + 2*i)})
			if tt.a != nil {
				cfg := *tt.a
				cfg.PublicIP = publicA
				nat := testnet.NewNAT(cfg)
				t.Cleanup(func() { nat.Close() })
				h, err := nat.Host()
				if err != nil {
					t.Fatal(err)
				}
				connA, hostA = h, h
				if tt.sameLAN {
					if connB, err = nat.Host(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.b != nil {
				cfg := *tt.b
				cfg.PublicIP = netip.AddrFrom4([4]byte{127, 0, 0, byte(11 + 2*i)})
				nat := testnet.NewNAT(cfg)
				t.Cleanup(func() { nat.Close() })
				h, err := nat.Host()
				if err != nil {
					t.Fatal(err)
				}
				connB = h
			}
			a := connectPeer(t, ts, connA)
			b := connectPeer(t, ts, connB)
			pa, pb := tc.NewP2P(a), tc.NewP2P(b)
			t.Cleanup(func() { pa.Close(); pb.Close() })
			pub := pa.Publish("cam")

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			ds, err := pb.Play(ctx, pa.PeerID(), "cam")
			if err != nil {
				t.Fatalf("play by peer ID: %v", err)
			}
			defer ds.Close()
			far := ds.Session().RemoteAddr()
			if far == a.Session().RemoteAddr() || far.Port() == addrPort(t, ts.RTMFPAddr()).Port() {
				t.Fatalf("the direct session runs to the server (%v)", far)
			}
			if tt.a != nil && !tt.wantViaLAN && far.Addr() != publicA {
				t.Fatalf("session runs to %v, want A's NAT at %v", far, publicA)
			}
			if tt.wantViaLAN && (hostA == nil || far != hostA.LANAddr()) {
				t.Fatalf("same-LAN session runs to %v, want A's private address", far)
			}
			if ds.Session().PeerID() != pa.PeerID() {
				t.Fatal("the direct session is not with A")
			}
			if err := pub.WaitPlayers(ctx, 1); err != nil {
				t.Fatal(err)
			}
			before := serverUserBytes(ts)
			frames := []protocol.Message{
				{Type: protocol.TypeVideo, Timestamp: 0, Payload: avcSeqHeader()},
				{Type: protocol.TypeAudio, Timestamp: 0, Payload: aacSeqHeader()},
				{Type: protocol.TypeVideo, Timestamp: 40, Payload: avcFrame(true, 1, 3000)},
				{Type: protocol.TypeAudio, Timestamp: 46, Payload: aacFrame(1)},
				{Type: protocol.TypeVideo, Timestamp: 80, Payload: avcFrame(false, 2, 5000)},
			}
			want := map[protocol.Type][]protocol.Message{}
			for _, f := range frames {
				if err := pub.WriteMessage(f, 0); err != nil {
					t.Fatal(err)
				}
				want[f.Type] = append(want[f.Type], f)
			}
			ds.SetDeadline(time.Now().Add(10 * time.Second))
			for range frames {
				m := readMediaFrom(t, ds, ds.StreamID)
				w := want[m.Type][0]
				want[m.Type] = want[m.Type][1:]
				if m.Timestamp != w.Timestamp || !bytes.Equal(m.Payload, w.Payload) {
					t.Fatalf("direct player: %v at %d (%d bytes), want at %d (%d bytes)", m.Type, m.Timestamp, len(m.Payload), w.Timestamp, len(w.Payload))
				}
			}
			if after := serverUserBytes(ts); after != before {
				t.Fatalf("the server carried %d bytes of user data during the direct stream", after-before)
			}
			if ts.stream(t, "cam") != nil {
				t.Fatal("the direct stream was published on the server")
			}
			if ts.logs.FilterMessage("p2p introduction").Len() == 0 {
				t.Fatal("no introduction logged")
			}
		})
	}
	t.Run("stream not found", func(t *testing.T) {
		a, b := connectPeer(t, ts, nil), connectPeer(t, ts, nil)
		pa, pb := tc.NewP2P(a), tc.NewP2P(b)
		defer pa.Close()
		defer pb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pb.Play(ctx, pa.PeerID(), "nothing"); !errors.Is(err, tc.ErrStreamNotFound) {
			t.Fatalf("play of an unpublished name: %v", err)
		}
	})
	// IHellos naming an unknown peer or the sender itself get no answer.
	t.Run("unknown and self ignored", func(t *testing.T) {
		a := connectPeer(t, ts, nil)
		introductions := ts.logs.FilterMessage("p2p introduction").Len()
		for name, id := range map[string][32]byte{"unknown peer": {1, 2, 3}, "itself": a.Session().Endpoint().PeerID()} {
			ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
			_, err := a.Session().Endpoint().DialPeer(ctx, id, addrPort(t, ts.RTMFPAddr()))
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: dial ended with %v, want silence until the deadline", name, err)
			}
		}
		if n := ts.logs.FilterMessage("p2p introduction").Len(); n != introductions {
			t.Fatalf("%d introductions for unknown or self IDs", n-introductions)
		}
	})
}

func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestRTMFPRedirector (issue 5, test 3): an instance configured as a
// redirector sends the client to a second instance, where it connects.
func TestRTMFPRedirector(t *testing.T) {
	target := startServer(t, nil)
	redirector := startServer(t, func(c *config.Config) { c.RTMFP.RedirectTo = []string{target.RTMFPAddr().String()} })
	c := dialRTMFP(t, redirector.mfp, tc.ClientConfig{Endpoint: rtmfp.Config{HandshakeRetransmit: 150 * time.Millisecond}})
	if code := c.Info().String("code"); code != protocol.ConnectSuccess {
		t.Fatalf("connect: %q", code)
	}
	if got, want := c.Session().RemoteAddr(), addrPort(t, target.RTMFPAddr()); got != want {
		t.Fatalf("session with %v, want the target instance %v", got, want)
	}
	testtools.WaitFor(t, 5*time.Second, "the client at the target", func() bool { return target.rv.Len() == 1 })
	redirector.mu.Lock()
	n := len(redirector.conns)
	redirector.mu.Unlock()
	if n != 0 {
		t.Fatalf("the redirector holds %d connections", n)
	}
}

func TestRTMFPRedirectConfig(t *testing.T) {
	cfg := config.Defaults()
	cfg.RTMFP.RedirectTo = []string{"no port"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "redirect_to") {
		t.Fatalf("bad redirect_to accepted: %v", err)
	}
	cfg = config.Defaults()
	cfg.RTMFP.MaxGroupMembers = 0
	if err := cfg.Validate(); err == nil {
		t.Fatal("max_group_members 0 accepted")
	}
}

// BenchmarkIntroductions measures P2P introductions per second: the
// server's whole answer to an IHello naming a connected peer (lookup,
// Redirect to the initiator, Forwarded IHello to the target).
func BenchmarkIntroductions(b *testing.B) {
	cfg := config.Defaults()
	cfg.RTMP.Listen, cfg.RTMFP.Listen, cfg.HTTP.Listen, cfg.Play.Listen = "127.0.0.1:0", "127.0.0.1:0", "", ""
	cfg.Apps = []config.AppConfig{{Name: "live"}}
	srv := New(cfg, zap.NewNop())
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { stop(); <-done }()
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tc.Dial(dctx, fmt.Sprintf("rtmfp://%s/live", srv.RTMFPAddr()), tc.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Command(0, "setPeerInfo", 0, nil, "10.0.0.2:5000", "[2001:db8::2]:5000"); err != nil {
		b.Fatal(err)
	}
	for srv.rv.Len() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	id := c.Session().Endpoint().PeerID()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	epd := append([]byte{0x21, 0x0f}, id[:]...)
	h := &rtmfp.Hello{From: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Tag: make([]byte, 16), EPD: epd, Fingerprint: id, HasFingerprint: true}
	b.ReportAllocs()
	for b.Loop() {
		srv.rv.OnUnmatchedHello(h)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "introductions/s")
}
