package rtmfp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// quietConn is a PacketConn that never delivers anything and discards
// writes, so a test can drive Endpoint.handleStartup itself without racing
// the read loop.
type quietConn struct{ closed chan struct{} }

func (c *quietConn) ReadFrom([]byte) (int, net.Addr, error)    { <-c.closed; return 0, nil, net.ErrClosed }
func (c *quietConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (c *quietConn) Close() error                              { close(c.closed); return nil }
func (c *quietConn) LocalAddr() net.Addr                       { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1935} }
func (c *quietConn) SetDeadline(time.Time) error               { return nil }
func (c *quietConn) SetReadDeadline(time.Time) error           { return nil }
func (c *quietConn) SetWriteDeadline(time.Time) error          { return nil }

// startupSeeds are plain startup chunk areas (after the header).
func startupSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	add(wire.AppendIHello(nil, &wire.IHello{EPD: flashcrypto.AppendURLEPD(nil, "rtmfp://host/app"), Tag: make([]byte, 16)}))
	add(wire.AppendIHello(nil, &wire.IHello{EPD: flashcrypto.AppendFingerprintEPD(nil, [32]byte{1}), Tag: make([]byte, 16)}))
	add(wire.AppendIIKeying(nil, &wire.IIKeying{InitiatorSessionID: 9, CookieEcho: make([]byte, cookieLen),
		Certificate: []byte{0x02, 0x15, 0x02}, SKIC: []byte{0x02, 0x1d, 0x02, 0x03, 0x1a, 0x02, 0x0a}, Signature: []byte("X")}))
	add(wire.AppendRHello(nil, &wire.RHello{TagEcho: make([]byte, 16), Cookie: make([]byte, 64), Certificate: []byte{0x01, 0x0a}}))
	add(wire.AppendRedirect(nil, &wire.Redirect{TagEcho: make([]byte, 16), Addresses: []wire.Address{{AddrPort: netip.MustParseAddrPort("10.0.0.1:1935")}}}))
	return seeds
}

// FuzzStartup drives the responder's handshake with arbitrary startup
// packets, both as plain chunks (sealed here so parsing is reached) and as
// raw datagrams (exercising decryption first).
func FuzzStartup(f *testing.F) {
	for _, s := range startupSeeds(f) {
		f.Add(s, false)
	}
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, true)
	conn := &quietConn{closed: make(chan struct{})}
	cfg := testConfig()
	cfg.DHGroups = []flashcrypto.GroupID{flashcrypto.Group2}
	cfg.UnmatchedHello = func(*Hello) {}
	// An unlimited rate keeps the outcome independent of earlier inputs,
	// which coverage-guided minimisation needs.
	cfg.HelloRate = 1 << 30
	e, err := NewEndpoint(conn, cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	sealer := flashcrypto.NewDefaultSealer()
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		p := getPacket()
		if raw {
			p.buf = append(p.buf[:0], data[:min(len(data), bufSize)]...)
		} else {
			b := appendStartupHeader(p.buf[:4+sealer.FrontMargin()], 1)
			b = append(b, data[:min(len(data), MaxPacketSize)]...)
			p.buf = sealer.Seal(b, 0)
		}
		p.addr, p.at = netip.MustParseAddrPort("192.0.2.7:5000"), time.Now()
		if !e.dispatch(p) {
			putPacket(p)
		}
	})
}

// FuzzSessionPacket feeds arbitrary chunk areas, sealed with the session
// keys, to an open session: user data, acknowledgements, probes, flow
// exceptions, pings and closes in any combination.
func FuzzSessionPacket(f *testing.F) {
	opts := wire.AppendFlowOptions(nil, []byte("TC\x04\x00"), 0, false)
	ud, _ := wire.AppendUserData(nil, &wire.UserData{FlowID: 2, Seq: 1, FSNOffset: 1, Options: opts, Data: []byte("hello")})
	ud, _ = wire.AppendNextUserData(ud, &wire.UserData{FlowID: 2, Seq: 2, FSNOffset: 2, Fragment: wire.FragmentBegin, Data: []byte("frag")})
	f.Add(ud)
	f.Add(wire.AppendAck(nil, 2, 64, 3, []wire.SeqRange{{Start: 5, End: 6}, {Start: 9, End: 9}}, 0))
	f.Add([]byte{0x50, 0x00, 0x05, 0x02, 0x7f, 0x10, 0x79, 0x06})
	f.Add(wire.AppendBufferProbe(wire.AppendFlowException(nil, 2, 1), 2))
	f.Add(wire.AppendPing(wire.AppendClose(nil), []byte("M")))
	f.Fuzz(func(t *testing.T, chunks []byte) {
		a, b := memPair(t, flashcrypto.Negotiated{})
		sf, err := b.OpenFlow([]byte("x"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = sf.Write([]byte("data"), WriteOptions{})
		step(b)
		p := getPacket()
		bb := p.buf[:4+a.sealer.FrontMargin()]
		bb = wire.AppendHeader(bb, &wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeInitiator, Timestamp: 7})
		bb = append(bb, chunks[:min(len(chunks), MaxPacketSize-32)]...)
		p.buf = a.sealer.Seal(bb, a.farID)
		p.addr, p.at = a.e.sock.(*loopSocket).from, time.Now()
		b.mu.Lock()
		b.receive(p)
		for _, rf := range b.recvFlows {
			if rf.buffered > b.e.cfg.RecvBuffer || len(rf.seqs.r) > maxRanges {
				t.Fatalf("receive state unbounded: %d bytes, %d ranges", rf.buffered, len(rf.seqs.r))
			}
		}
		b.mu.Unlock()
		step(b)
	})
}
