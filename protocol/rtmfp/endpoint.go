package rtmfp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Endpoint is one UDP socket speaking RTMFP in both roles: it accepts
// sessions as a responder (a server, or a Flash peer being called) and
// opens sessions as an initiator (Dial). All methods are safe for
// concurrent use.
type Endpoint struct {
	cfg     Config
	log     *zap.Logger
	conn    net.PacketConn
	sock    socket
	id      *flashcrypto.Identity
	cert    *flashcrypto.Certificate
	epoch   time.Time
	cookies *cookieJar    // read loop only
	limiter *helloLimiter // read loop only
	// hsOpener and hsSealer belong to the read loop; apiSealer (under
	// apiMu) serves SendRedirect from other goroutines.
	hsOpener  *flashcrypto.Opener
	hsSealer  *flashcrypto.Sealer
	apiMu     sync.Mutex
	apiSealer *flashcrypto.Sealer
	keyingSem chan struct{}
	accept    chan *Session
	closing   chan struct{}
	closeOnce sync.Once
	readDone  chan struct{}
	wg        sync.WaitGroup // session goroutines and keying workers

	// flashDropped counts packets FlashStrict dropped.
	flashDropped atomic.Uint64

	// Time Critical Forward Notifications seen: when, and on which session.
	tcAt      atomic.Int64
	tcSession atomic.Pointer[Session]

	mu       sync.RWMutex
	sessions map[uint32]*Session // by our (near) session ID
	dialing  map[[16]byte]*Session
	byCookie map[string]*Session // responder sessions by cookie, for IIKeying retransmissions
	retired  map[uint32]time.Time
	closed   bool
}

// Listen opens a UDP socket on address ("host:port", port 1935 is RTMFP's
// customary one) and serves RTMFP on it.
func Listen(network, address string, cfg Config) (*Endpoint, error) {
	conn, err := net.ListenPacket(network, address)
	if err != nil {
		return nil, fmt.Errorf("rtmfp: listen: %w", err)
	}
	e, err := NewEndpoint(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return e, nil
}

// NewEndpoint serves RTMFP on conn, which the endpoint owns from now on and
// closes in Close.
func NewEndpoint(conn net.PacketConn, cfg Config) (*Endpoint, error) {
	cfg = cfg.withDefaults()
	id := cfg.Identity
	if id == nil {
		var err error
		if id, err = flashcrypto.NewIdentity(cfg.DHGroups, true, "", nil); err != nil {
			return nil, err
		}
	}
	cert, err := flashcrypto.ParseCertificate(id.Cert)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{
		cfg:       cfg,
		log:       cfg.Logger,
		conn:      conn,
		sock:      newSocket(conn),
		id:        id,
		cert:      cert,
		epoch:     time.Now(),
		cookies:   newCookieJar(cfg.CookieLifetime),
		limiter:   newHelloLimiter(cfg.HelloRate),
		hsOpener:  flashcrypto.NewDefaultOpener(),
		hsSealer:  flashcrypto.NewDefaultSealer(),
		apiSealer: flashcrypto.NewDefaultSealer(),
		keyingSem: make(chan struct{}, cfg.MaxConcurrentKeying),
		accept:    make(chan *Session, cfg.AcceptBacklog),
		closing:   make(chan struct{}),
		readDone:  make(chan struct{}),
		sessions:  make(map[uint32]*Session),
		dialing:   make(map[[16]byte]*Session),
		byCookie:  make(map[string]*Session),
		retired:   make(map[uint32]time.Time),
	}
	go e.readLoop()
	return e, nil
}

// PeerID is this endpoint's peer ID (SHA-256 of its certificate), which
// fingerprint EPDs name.
func (e *Endpoint) PeerID() [32]byte { return e.cert.Fingerprint }

// Identity returns the endpoint's certificate.
func (e *Endpoint) Identity() *flashcrypto.Identity { return e.id }

// FlashDropped is the number of packets dropped because a Flash-profile
// receiver would drop them (Config.FlashStrict); always 0 without it.
func (e *Endpoint) FlashDropped() uint64 { return e.flashDropped.Load() }

// flashRejects applies Config.FlashStrict to a decrypted packet's flags
// byte, counting what it drops. It is small enough to inline, so the
// receive path pays one field test when FlashStrict is off.
func (e *Endpoint) flashRejects(flags byte, fromInitiator bool) bool {
	return e.cfg.FlashStrict && e.dropForFlash(flags, fromInitiator)
}

// dropForFlash is flashRejects's strict half.
func (e *Endpoint) dropForFlash(flags byte, fromInitiator bool) bool {
	if wire.FlashAccepts(flags, fromInitiator) {
		return false
	}
	e.flashDropped.Add(1)
	e.log.Debug("rtmfp: dropped a packet Flash would drop", zap.Uint8("flags", flags))
	return true
}

// LocalAddr is the socket's address.
func (e *Endpoint) LocalAddr() net.Addr { return e.conn.LocalAddr() }

// Accept returns the next session a peer opened to us.
func (e *Endpoint) Accept(ctx context.Context) (*Session, error) {
	select {
	case s := <-e.accept:
		return s, nil
	case <-e.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close ends every session abruptly (each peer is sent a Close Ack), waits
// for their goroutines and closes the socket. For orderly closes, close
// the sessions first.
func (e *Endpoint) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.closing)
		e.wg.Wait()
		err = e.conn.Close()
		<-e.readDone
	})
	return err
}

// Dial opens a session to the server named by an rtmfp:// URL, which is
// carried in the endpoint discriminator as Flash does (the URL's host and
// port, default 1935, give the address).
func (e *Endpoint) Dial(ctx context.Context, rawURL string) (*Session, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmfp: dial: %w", err)
	}
	port := 1935
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("rtmfp: dial: bad port: %w", err)
		}
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("rtmfp: dial: resolving %q: %w", u.Hostname(), err)
	}
	addrs := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		if len(addrs) < maxCandidates {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		}
	}
	return e.DialEPD(ctx, flashcrypto.AppendURLEPD(nil, rawURL), addrs...)
}

// DialPeer opens a session to the peer with the given peer ID, sending the
// IHello to the given addresses: the peer's own, or a rendezvous server's,
// which introduces us (Redirect, Forwarded IHello).
func (e *Endpoint) DialPeer(ctx context.Context, peerID [32]byte, via ...netip.AddrPort) (*Session, error) {
	return e.DialEPD(ctx, flashcrypto.AppendFingerprintEPD(nil, peerID), via...)
}

// DialEPD opens a session with an arbitrary endpoint discriminator.
func (e *Endpoint) DialEPD(ctx context.Context, epd []byte, addrs ...netip.AddrPort) (*Session, error) {
	epd = append([]byte(nil), epd...)
	parsed, err := flashcrypto.ParseEPD(epd)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("rtmfp: dial: no address")
	}
	now := time.Now()
	s := newSession(e, true)
	s.sealer, s.opener = flashcrypto.NewDefaultSealer(), flashcrypto.NewDefaultOpener()
	s.hs = &initiatorHandshake{
		epd:        epd,
		parsedEPD:  parsed,
		candidates: append([]netip.AddrPort(nil), addrs[:min(len(addrs), maxCandidates)]...),
		interval:   e.cfg.HandshakeRetransmit,
		nextAt:     now,
		deadline:   now.Add(e.cfg.HandshakeTimeout),
	}
	randRead(s.hs.tag[:])
	s.addr = addrs[0]
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	e.dialing[s.hs.tag] = s
	e.wg.Add(1)
	e.mu.Unlock()
	go s.run()
	select {
	case <-s.opened:
		return s, nil
	case <-s.done:
		if w := s.supersededBy.Load(); w != nil {
			return w, nil
		}
		return nil, s.Err()
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// SendRedirect answers an IHello (see Config.UnmatchedHello) with a
// Redirect listing addresses where the wanted peer may be reached (RFC 7016
// §2.3.5, §3.5.1.4).
func (e *Endpoint) SendRedirect(to netip.AddrPort, tag []byte, addrs []wire.Address) error {
	e.apiMu.Lock()
	defer e.apiMu.Unlock()
	return e.sendStartup(e.apiSealer, to, 0, func(b []byte) ([]byte, error) {
		return wire.AppendRedirect(b, &wire.Redirect{TagEcho: tag, Addresses: addrs})
	})
}

// sendStartup seals and sends one startup packet.
func (e *Endpoint) sendStartup(sealer *flashcrypto.Sealer, to netip.AddrPort, farID uint32, fn func([]byte) ([]byte, error)) error {
	p := getPacket()
	defer putPacket(p)
	b := appendStartupHeader(p.buf[:4+sealer.FrontMargin()], uint16(time.Since(e.epoch)/(4*time.Millisecond)))
	b, err := fn(b)
	if err != nil {
		return err
	}
	if len(b)+flashcrypto.SealOverhead > cap(p.buf) {
		return wire.ErrChunkTooLong
	}
	d := sealer.Seal(b, farID)
	return e.sock.writeBatch([]datagram{{b: d, addr: to}})
}

func randRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
}

// registerSession assigns s a fresh session ID. IDs are random, never 0,
// never one in use, and never one retired recently, so stray packets of a
// dead session cannot reach its successor.
func (e *Endpoint) registerSession(s *Session) (uint32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, ErrClosed
	}
	if len(e.sessions) >= e.cfg.MaxSessions {
		return 0, fmt.Errorf("%w: session limit", ErrHandshake)
	}
	now := time.Now()
	if len(e.retired) > 4096 {
		for id, until := range e.retired {
			if now.After(until) {
				delete(e.retired, id)
			}
		}
	}
	var b [4]byte
	for {
		randRead(b[:])
		id := binary.BigEndian.Uint32(b[:])
		if _, used := e.sessions[id]; id == 0 || used {
			continue
		}
		if until, ok := e.retired[id]; ok && now.Before(until) {
			continue
		}
		e.sessions[id] = s
		return id, nil
	}
}

// removeSession forgets a session whose goroutine is exiting.
func (e *Endpoint) removeSession(s *Session) {
	e.mu.Lock()
	if s.nearID != 0 && e.sessions[s.nearID] == s {
		delete(e.sessions, s.nearID)
		e.retired[s.nearID] = time.Now().Add(retireFor)
	}
	if s.cookie != "" && e.byCookie[s.cookie] == s {
		delete(e.byCookie, s.cookie)
	}
	if s.hs != nil && e.dialing[s.hs.tag] == s {
		delete(e.dialing, s.hs.tag)
	}
	e.mu.Unlock()
	e.wg.Done()
}

// retireFor keeps a dead session's ID out of use for longer than any
// packet of it can linger in the network.
const retireFor = 2 * time.Minute

// dialed is called when an initiator's handshake completes.
func (e *Endpoint) dialed(s *Session) {
	e.mu.Lock()
	delete(e.dialing, s.hs.tag)
	e.mu.Unlock()
}

// timeCriticalFrom records a packet with time-critical data from s.
func (e *Endpoint) timeCriticalFrom(s *Session, at time.Time) {
	e.tcAt.Store(at.UnixNano())
	e.tcSession.Store(s)
}

// timeCriticalElsewhere reports whether another session than s received
// time-critical data in the last 800 ms: s then sets the Time Critical
// Reverse Notification so its peer yields (RFC 7016 §2.2.4, §3.5.2.1).
func (e *Endpoint) timeCriticalElsewhere(s *Session, now time.Time) bool {
	at := e.tcAt.Load()
	return at != 0 && now.UnixNano()-at < int64(800*time.Millisecond) && e.tcSession.Load() != s
}

// sessionMoved logs a completed address change.
func (e *Endpoint) sessionMoved(s *Session, to netip.AddrPort) {
	e.log.Debug("rtmfp session address changed", zap.Uint32("id", s.nearID), zap.Stringer("addr", to))
}
