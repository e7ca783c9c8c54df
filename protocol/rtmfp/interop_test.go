package rtmfp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// flashPeer speaks the bytes Flash Player (and librtmfp, which copies it)
// puts on the wire, built by hand from the wire and flashcrypto primitives
// so the test checks our endpoint against the profile, not against itself.
type flashPeer struct {
	t      *testing.T
	conn   *net.UDPConn
	server *net.UDPAddr
}

func (f *flashPeer) send(sealer *flashcrypto.Sealer, farID uint32, hdr wire.Header, chunks []byte) {
	f.t.Helper()
	b := wire.AppendHeader(make([]byte, 4+sealer.FrontMargin(), 2048), &hdr)
	b = append(b, chunks...)
	if _, err := f.conn.WriteToUDP(sealer.Seal(b, farID), f.server); err != nil {
		f.t.Fatal(err)
	}
}

// recv returns the next datagram's session ID and plain chunk area.
func (f *flashPeer) recv(opener *flashcrypto.Opener) (uint32, wire.Header, []byte) {
	f.t.Helper()
	buf := make([]byte, 2048)
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := f.conn.ReadFromUDP(buf)
	if err != nil {
		f.t.Fatal(err)
	}
	sid := flashcrypto.SessionID(buf[:n])
	plain, err := opener.Open(buf[:n])
	if err != nil {
		f.t.Fatalf("cannot open server packet: %v", err)
	}
	h, body, err := wire.ParseHeader(plain)
	if err != nil {
		f.t.Fatal(err)
	}
	return sid, h, body
}

func firstChunk(t *testing.T, body []byte, typ byte) []byte {
	t.Helper()
	r := wire.NewChunkReader(body)
	for r.Next() {
		if r.Type() == typ {
			return r.Payload()
		}
	}
	t.Fatalf("no chunk %#x in %x", typ, body)
	return nil
}

// TestFlashStyleHandshake replays the Flash profile's worked handshake
// (static group-2 key in the client certificate, group select, HMAC and
// sequence numbers offered only on request) and opens a TC flow.
func TestFlashStyleHandshake(t *testing.T) {
	leakCheck(t)
	server := listen(t, testConfig())
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fp := &flashPeer{t: t, conn: conn, server: net.UDPAddrFromAddrPort(addrOf(server))}
	def := flashcrypto.NewDefaultSealer()
	defOpen := flashcrypto.NewDefaultOpener()
	startup := wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeStartup, Timestamp: 0x1234}

	// IHello with the URL EPD: 30 LLLL <len> <len> 0a "rtmfp://..." <tag>.
	tag := bytes.Repeat([]byte{0xa5}, 16)
	url := fmt.Sprintf("rtmfp://%s/live", addrOf(server))
	ih, _ := wire.AppendIHello(nil, &wire.IHello{EPD: flashcrypto.AppendURLEPD(nil, url), Tag: tag})
	fp.send(def, 0, startup, ih)

	sid, h, body := fp.recv(defOpen)
	if sid != 0 || h.Mode != wire.ModeStartup {
		t.Fatalf("RHello session %d mode %d", sid, h.Mode)
	}
	rh, err := wire.ParseRHello(firstChunk(t, body, wire.ChunkRHello))
	if err != nil || !bytes.Equal(rh.TagEcho, tag) || len(rh.Cookie) != 64 {
		t.Fatalf("RHello %+v %v", rh, err)
	}
	if len(rh.Certificate) < 77 || !bytes.HasPrefix(rh.Certificate, []byte{0x01, 0x0a, 0x41, 0x0e}) {
		t.Fatalf("server certificate %x", rh.Certificate)
	}

	// IIKeying: certificate 81 02 1d 02 <key>, SKIC 02 1d 02 | 41 0e <64> |
	// 03 1a 02 0a | 02 1e 02, signature "X".
	kp, err := flashcrypto.GenerateKey(flashcrypto.Group2, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert := wire.AppendOption(nil, flashcrypto.CertStaticDHPublicKey, append([]byte{0x02}, kp.Public...))
	skic := []byte{0x02, 0x1d, 0x02}
	skic = wire.AppendOption(skic, flashcrypto.KeyingExtraRandomness, bytes.Repeat([]byte{7}, 64))
	skic = append(skic, 0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02)
	const initiatorID = 0x01020304
	ik, _ := wire.AppendIIKeying(nil, &wire.IIKeying{InitiatorSessionID: initiatorID, CookieEcho: rh.Cookie,
		Certificate: cert, SKIC: skic, Signature: []byte("X")})
	fp.send(def, 0, startup, ik)

	// RIKeying arrives under the default key, scrambled with our session ID.
	sid, _, body = fp.recv(defOpen)
	if sid != initiatorID {
		t.Fatalf("RIKeying sent to session %#x", sid)
	}
	rik, err := wire.ParseRIKeying(firstChunk(t, body, wire.ChunkRIKeying))
	if err != nil || rik.ResponderSessionID == 0 || string(rik.Signature) != "X" {
		t.Fatalf("RIKeying %+v %v", rik, err)
	}
	// librtmfp's checks: the legacy negotiation bytes, then the key at 11.
	if !bytes.HasPrefix(rik.SKRC, []byte{0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00}) || rik.SKRC[9] != 0x0d || rik.SKRC[10] != 0x02 {
		t.Fatalf("SKRC %x", rik.SKRC[:12])
	}
	secret, err := kp.SharedSecret(rik.SKRC[11:])
	if err != nil {
		t.Fatal(err)
	}
	keys := flashcrypto.DeriveKeys(secret, skic, rik.SKRC)
	sealer, opener := keys.Codecs(flashcrypto.Negotiated{})

	// First session packet: open flow 2 with TC metadata (05 00 54 43 04 00).
	opts := wire.AppendFlowOptions(nil, []byte("TC\x04\x00"), 0, false)
	ud, _ := wire.AppendUserData(nil, &wire.UserData{FlowID: 2, Seq: 1, FSNOffset: 1, Options: opts, Data: []byte("\x14connect")})
	fp.send(sealer, rik.ResponderSessionID, wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeInitiator, Timestamp: 1}, ud)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, err := server.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := flashcrypto.DeriveKeys(secret, skic, rik.SKRC); ss.PeerID() != sha256.Sum256(cert) || want.NearNonce != ss.FarNonce() {
		t.Fatal("peer ID or nonce differs from the Flash-side computation")
	}
	rf, err := ss.AcceptFlow(ctx)
	if err != nil || string(rf.Metadata()) != "TC\x04\x00" {
		t.Fatalf("flow %v metadata %q", err, rf.Metadata())
	}
	if m, err := rf.ReadMessage(ctx); err != nil || string(m.Data) != "\x14connect" {
		t.Fatalf("message %q %v", m.Data, err)
	}
	ret, err := ss.OpenFlow([]byte("TC\x04\x00"), FlowOptions{ReturnFor: rf})
	if err != nil {
		t.Fatal(err)
	}
	ret.Write([]byte("\x14_result"), WriteOptions{})

	// The server's packets decrypt with the Flash-side keys, are marked
	// responder, and carry the return flow associated with flow 2 plus an
	// acknowledgement of it.
	var sawAck, sawFlow bool
	for i := 0; i < 10 && !(sawAck && sawFlow); i++ {
		sid, h, body := fp.recv(opener)
		if sid != initiatorID || h.Mode != wire.ModeResponder {
			t.Fatalf("session packet to %#x mode %d", sid, h.Mode)
		}
		r := wire.NewChunkReader(body)
		for r.Next() {
			switch r.Type() {
			case wire.ChunkAckBitmap, wire.ChunkAckRanges:
				a, err := wire.ParseAck(r.Type(), r.Payload())
				sawAck = sawAck || (err == nil && a.FlowID == 2 && a.CumAck >= 1)
			case wire.ChunkUserData:
				u, err := wire.ParseUserData(r.Payload())
				if err == nil && string(u.Data) == "\x14_result" {
					v, ok := wire.FindOption(u.Options, wire.OptionReturnAssociation)
					sawFlow = ok && bytes.Equal(v, []byte{2})
				}
			}
		}
	}
	if !sawAck || !sawFlow {
		t.Fatalf("ack seen %v, associated return flow seen %v", sawAck, sawFlow)
	}
}

// A cookie that comes back from another address (NAT rebinding between
// RHello and IIKeying) is answered with an RHello Cookie Change (RFC 7016
// §3.5.1.2), and the new cookie completes the handshake.
func TestCookieChange(t *testing.T) {
	leakCheck(t)
	server := listen(t, testConfig())
	dial := func() *flashPeer {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return &flashPeer{t: t, conn: conn, server: net.UDPAddrFromAddrPort(addrOf(server))}
	}
	a, b := dial(), dial()
	def, defOpen := flashcrypto.NewDefaultSealer(), flashcrypto.NewDefaultOpener()
	startup := wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeStartup}
	ih, _ := wire.AppendIHello(nil, &wire.IHello{EPD: flashcrypto.AppendURLEPD(nil, "rtmfp://x/y"), Tag: make([]byte, 16)})
	a.send(def, 0, startup, ih)
	_, _, body := a.recv(defOpen)
	rh, _ := wire.ParseRHello(firstChunk(t, body, wire.ChunkRHello))

	id, _ := flashcrypto.NewIdentity([]flashcrypto.GroupID{flashcrypto.Group2}, false, "", nil)
	srvCert, _ := flashcrypto.ParseCertificate(rh.Certificate)
	keying, err := flashcrypto.NewInitiatorKeying(srvCert, []flashcrypto.GroupID{flashcrypto.Group2}, flashcrypto.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	iikeying := func(cookie []byte) []byte {
		c, _ := wire.AppendIIKeying(nil, &wire.IIKeying{InitiatorSessionID: 77, CookieEcho: cookie,
			Certificate: id.Cert, SKIC: keying.SKIC(), Signature: []byte("X")})
		return c
	}
	b.send(def, 0, startup, iikeying(rh.Cookie))
	sid, _, body := b.recv(defOpen)
	cc, err := wire.ParseCookieChange(firstChunk(t, body, wire.ChunkRHelloCookieChange))
	if sid != 77 || err != nil || !bytes.Equal(cc.OldCookie, rh.Cookie) || len(cc.NewCookie) != 64 {
		t.Fatalf("cookie change to %d: %+v %v", sid, cc, err)
	}
	b.send(def, 0, startup, iikeying(cc.NewCookie))
	sid, _, body = b.recv(defOpen)
	if _, err := wire.ParseRIKeying(firstChunk(t, body, wire.ChunkRIKeying)); sid != 77 || err != nil {
		t.Fatalf("no RIKeying after the cookie change: %v", err)
	}
}

// The responder answers at most HelloRate IHellos per second from one
// address: the bound on what it sends to an unverified address.
func TestHelloRateLimit(t *testing.T) {
	leakCheck(t)
	cfg := testConfig()
	cfg.HelloRate = 5
	server := listen(t, cfg)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fp := &flashPeer{t: t, conn: conn, server: net.UDPAddrFromAddrPort(addrOf(server))}
	ih, _ := wire.AppendIHello(nil, &wire.IHello{EPD: flashcrypto.AppendURLEPD(nil, "rtmfp://x/y"), Tag: make([]byte, 16)})
	def := flashcrypto.NewDefaultSealer()
	for i := 0; i < 50; i++ {
		fp.send(def, 0, wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeStartup}, ih)
	}
	replies := 0
	buf := make([]byte, 2048)
	for {
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := conn.ReadFromUDP(buf); err != nil {
			break
		}
		replies++
	}
	if replies == 0 || replies > 6 {
		t.Fatalf("%d RHellos for 50 IHellos from one address at 5/s", replies)
	}
}

// Our initiator follows an RHello Cookie Change: it re-sends its IIKeying
// with the new cookie (RFC 7016 §3.5.1.2).
func TestInitiatorFollowsCookieChange(t *testing.T) {
	leakCheck(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := listen(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	dialDone := make(chan struct{})
	go func() {
		defer close(dialDone)
		client.DialEPD(ctx, flashcrypto.AppendURLEPD(nil, "rtmfp://fake/app"), conn.LocalAddr().(*net.UDPAddr).AddrPort())
	}()
	defer func() { cancel(); <-dialDone }()

	def, defOpen := flashcrypto.NewDefaultSealer(), flashcrypto.NewDefaultOpener()
	buf := make([]byte, 2048)
	read := func(want byte) (*net.UDPAddr, uint32, []byte) {
		t.Helper()
		for {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := defOpen.Open(buf[:n])
			if err != nil {
				continue
			}
			_, body, _ := wire.ParseHeader(plain)
			r := wire.NewChunkReader(body)
			if r.Next() && r.Type() == want {
				return from, flashcrypto.SessionID(buf[:n]), append([]byte(nil), r.Payload()...)
			}
		}
	}
	reply := func(to *net.UDPAddr, farID uint32, chunk []byte) {
		b := wire.AppendHeader(make([]byte, 4+def.FrontMargin(), 2048), &wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeStartup})
		conn.WriteToUDP(def.Seal(append(b, chunk...), farID), to)
	}
	from, _, p := read(wire.ChunkIHello)
	ih, _ := wire.ParseIHello(p)
	id, _ := flashcrypto.NewIdentity([]flashcrypto.GroupID{flashcrypto.Group2}, true, "", nil)
	oldCookie, newCookie := bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 64)
	rh, _ := wire.AppendRHello(nil, &wire.RHello{TagEcho: ih.Tag, Cookie: oldCookie, Certificate: id.Cert})
	reply(from, 0, rh)
	_, _, p = read(wire.ChunkIIKeying)
	ik, _ := wire.ParseIIKeying(p)
	if !bytes.Equal(ik.CookieEcho, oldCookie) {
		t.Fatal("first IIKeying does not echo the RHello cookie")
	}
	cc, _ := wire.AppendCookieChange(nil, &wire.CookieChange{OldCookie: oldCookie, NewCookie: newCookie})
	reply(from, ik.InitiatorSessionID, cc)
	for {
		_, _, p = read(wire.ChunkIIKeying)
		ik2, _ := wire.ParseIIKeying(p)
		if bytes.Equal(ik2.CookieEcho, newCookie) {
			if ik2.InitiatorSessionID != ik.InitiatorSessionID || !bytes.Equal(ik2.SKIC, ik.SKIC) {
				t.Fatal("the re-sent IIKeying changed more than its cookie")
			}
			return
		}
	}
}
