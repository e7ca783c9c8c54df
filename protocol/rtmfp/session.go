package rtmfp

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/congestion"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

type sessionState uint8

const (
	stateIHello    sessionState = iota // initiator: sending IHello
	stateIIKeying                      // initiator: sent IIKeying, awaiting RIKeying
	stateOpen                          // S_OPEN
	stateNearClose                     // S_NEARCLOSE: sent Close, awaiting Close Ack
	stateFarClose                      // S_FARCLOSE_LINGER: peer closed, answering its Closes
	stateClosed                        // S_CLOSED
)

// EventKind identifies a session event.
type EventKind uint8

// Session events.
const (
	// EventAddressChanged: the peer now sends from (and we send to) a new
	// address, after a mobility check proved it is there (RFC 7016
	// §3.5.4.2). Rendezvous tables should be updated.
	EventAddressChanged EventKind = iota + 1
)

// Event is a session event. The end of a session is signalled by Done and
// Err instead, so that it cannot be missed.
type Event struct {
	Kind EventKind
	Addr netip.AddrPort
}

// Session is an RTMFP session with one peer (RFC 7016 §3.5). All methods
// are safe for concurrent use.
//
// mu owns the session's state: the fields after it, and the state of its
// SendFlows and RecvFlows. The fields before it are set before the session
// is handed out and never change, or synchronise themselves (channels,
// atomics). Packets are built and sealed under mu, and written after it is
// released (unlockAndWrite); see the package documentation.
type Session struct {
	e         *Endpoint
	log       *zap.Logger
	initiator bool
	epoch     time.Time

	rx       chan *packet  // datagrams from the read loop
	wake     chan struct{} // API activity: new data, new flows, Close
	closeReq chan struct{} // closed by Close
	opened   chan struct{} // closed when the handshake completes (initiator)
	done     chan struct{} // closed when run has exited
	// farClosed is closed when the peer closes the session (FarClose).
	farClosed chan struct{}
	events    chan Event
	accepts   chan struct{}
	// readable has a token when a flow was queued for accepting or a
	// received flow may have something for its reader (Readable).
	readable chan struct{}

	closeOnce sync.Once
	// rxQueued counts datagrams handed to rx and not yet processed; deliver
	// bypasses rx only when it is zero.
	rxQueued atomic.Int32
	// supersededBy is set, on an opening session that glare replaced,
	// before it is closed, so that its Dial returns the replacement.
	supersededBy atomic.Pointer[Session]
	// The handshake sets these before Dial or Accept hands the session
	// out.
	peerID    [32]byte
	nearNonce [32]byte
	farNonce  [32]byte

	mu     sync.Mutex
	sealer *flashcrypto.Sealer
	opener *flashcrypto.Opener
	// out collects the packets built under mu until a writer takes them;
	// spare is the empty batch the writer swaps in, and writing is set
	// while a goroutine writes (unlockAndWrite).
	out       outBatch
	spare     outBatch
	writing   bool
	state     sessionState
	err       error
	nearID    uint32
	farID     uint32
	addr      netip.AddrPort // DESTADDR
	cipherMax int            // largest encrypted region of a datagram
	plainMax  int            // plain packet capacity used to size fragments

	// Handshake (initiator, and the responder's cached RIKeying).
	hs *initiatorHandshake
	// supersedes is, on a responder session born of glare, our own
	// opening session to the same peer that it replaces.
	supersedes *Session
	// rikeying is the responder's RIKeying datagram, re-sent for a
	// retransmitted IIKeying (under Endpoint.mu).
	rikeying []byte
	cookie   string // responder: key in Endpoint.byCookie

	// Flows.
	sendFlows  map[uint64]*SendFlow
	sendOrder  []*SendFlow
	rrNext     int
	recvFlows  map[uint64]*RecvFlow
	acceptQ    []*RecvFlow
	nextFlowID uint64

	// Timing and RTT (RFC 7016 §3.5.2.2).
	lastRecv  time.Time
	tsRx      uint16
	tsRxTime  time.Time
	hasTSRx   bool
	tsEchoTx  uint16
	hasEchoTx bool
	tsEchoRx  uint16
	hasEchoRx bool
	srtt      time.Duration
	rttvar    time.Duration
	mrto      time.Duration
	erto      time.Duration
	rtoAt     time.Time
	pingAt    time.Time
	// lingerCheckAt is when tick next looks for completed receiving
	// flows to forget.
	lingerCheckAt time.Time
	// unsealed is 1 + the index in out of the first packet waiting to be
	// sealed together with the ones after it (0: none).
	unsealed int
	// group is sealPending's scratch.
	group [flashcrypto.GroupSize][]byte
	// timer is the run loop's, armedAt when it fires next; Flush re-arms
	// it too.
	timer    *time.Timer
	armedAt  time.Time
	closeAt  time.Time // next Close retransmission, or end of linger
	closeEnd time.Time

	// Sending.
	cc          *congestion.NewReno
	pacer       congestion.Pacer
	outstanding int
	nextTSN     uint64
	maxTSNAck   uint64
	paceAt      time.Time
	tcrAt       time.Time // last Time Critical Reverse Notification received
	tcSentAt    time.Time // last packet we sent with time-critical data

	// Control chunks owed to the peer.
	ackNow        bool
	delackAt      time.Time
	rxDataPackets int
	pingReplies   [][]byte // bodies to echo, bounded
	sendPing      bool
	sendClose     bool
	sendCloseAck  bool
	exceptions    []flowException
	probes        []uint64 // flow IDs owed a Buffer Probe
	ackPending    bool     // some receiving flow has shouldAck set
	forwards      [][]byte // encoded FIHello chunks

	// Mobility (RFC 7016 §3.5.4.2).
	mobSecret [16]byte
	mobTxAt   time.Time
	mobRxTS   int64
	mobAddr   netip.AddrPort
	mobPing   []byte
}

type flowException struct{ id, code uint64 }

func newSession(e *Endpoint, initiator bool) *Session {
	s := &Session{
		e:          e,
		log:        e.log,
		initiator:  initiator,
		epoch:      time.Now(),
		rx:         make(chan *packet, 256),
		wake:       make(chan struct{}, 1),
		closeReq:   make(chan struct{}),
		opened:     make(chan struct{}),
		done:       make(chan struct{}),
		farClosed:  make(chan struct{}),
		events:     make(chan Event, 8),
		accepts:    make(chan struct{}, 1),
		readable:   make(chan struct{}, 1),
		sendFlows:  make(map[uint64]*SendFlow),
		recvFlows:  make(map[uint64]*RecvFlow),
		nextFlowID: 2,
		mrto:       250 * time.Millisecond,
		erto:       3 * time.Second,
		cc:         congestion.NewNewReno(),
		nextTSN:    1,
	}
	randRead(s.mobSecret[:])
	s.lastRecv = s.epoch
	return s
}

// sendingTC reports whether we sent time-critical data recently, which
// exempts us from yielding to the peer's reverse notification (RFC 7016
// §3.5.2.1).
func (s *Session) sendingTC(now time.Time) bool {
	return !s.tcSentAt.IsZero() && now.Sub(s.tcSentAt) < 800*time.Millisecond
}

// signal wakes the run loop.
func (s *Session) signal() { notify(s.wake) }

// PeerID is the far end's peer ID: SHA-256 of its certificate's canonical
// part (NetConnection.farID).
func (s *Session) PeerID() [32]byte { return s.peerID }

// NearNonce and FarNonce are the session nonces of RFC 7425 §4.6.5
// (NetConnection.nearNonce / farNonce).
func (s *Session) NearNonce() [32]byte { return s.nearNonce }

// FarNonce is the peer's session nonce.
func (s *Session) FarNonce() [32]byte { return s.farNonce }

// Initiator reports whether this end opened the session.
func (s *Session) Initiator() bool { return s.initiator }

// Endpoint returns the endpoint the session belongs to.
func (s *Session) Endpoint() *Endpoint { return s.e }

// RemoteAddr is the peer's current address.
func (s *Session) RemoteAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// RTT returns the smoothed round-trip time (0 before the first sample).
func (s *Session) RTT() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srtt
}

// Events delivers address changes. It is buffered; events that find it
// full are dropped, so read it if you care.
func (s *Session) Events() <-chan Event { return s.events }

// Done is closed when the session has ended and all its resources are
// released.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (nil while it is open). A local Close
// yields ErrClosed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close closes the session in an orderly way (RFC 7016 §3.5.5): it sends
// Close until the peer acknowledges or CloseTimeout passes, then releases
// everything. It returns when the session has ended.
func (s *Session) Close() error {
	s.closeOnce.Do(func() { close(s.closeReq) })
	select {
	case <-s.done:
	case <-s.farClosed:
		// The peer closed first: the session lingers (CloseLinger) only
		// to acknowledge the peer's retransmitted Close, which needs no
		// one waiting; the Endpoint still ends it.
	}
	return nil
}

// OpenFlow opens a sending flow with the given metadata (RFC 7016 §3.6.2.1).
// The peer learns of it when the first message is sent.
func (s *Session) OpenFlow(metadata []byte, opts FlowOptions) (*SendFlow, error) {
	if len(metadata) > MaxMetadata {
		return nil, ErrMetadataTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return nil, s.errOrClosed()
	}
	if len(s.sendFlows) >= s.e.cfg.MaxFlows {
		return nil, ErrTooManyFlows
	}
	if opts.ReturnFor != nil {
		rf := opts.ReturnFor
		if rf.s != s || rf.state != recvOpen || s.recvFlows[rf.id] != rf {
			return nil, ErrInvalidAssociation
		}
	}
	f := newSendFlow(s, s.nextFlowID, append([]byte(nil), metadata...), opts.ReturnFor)
	f.critical = opts.TimeCritical
	s.nextFlowID++
	s.sendFlows[f.id] = f
	s.sendOrder = append(s.sendOrder, f)
	return f, nil
}

// AcceptFlow returns the next flow the peer opened.
func (s *Session) AcceptFlow(ctx context.Context) (*RecvFlow, error) {
	for {
		f, err := s.TryAcceptFlow()
		if f != nil || err != nil {
			return f, err
		}
		select {
		case <-s.accepts:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryAcceptFlow is AcceptFlow without waiting: it returns a nil flow and
// a nil error when the peer has opened no flow since the last call.
func (s *Session) TryAcceptFlow() (*RecvFlow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acceptQ) > 0 {
		f := s.acceptQ[0]
		s.acceptQ[0] = nil
		s.acceptQ = s.acceptQ[1:]
		return f, nil
	}
	return nil, s.err
}

// Readable receives a token when the peer opened a flow or a received flow
// may have something for ReadMessage (a message, its end, an error),
// and when the session ends. One token can stand for many events: a
// goroutine serving a whole session (instead of one per flow) takes
// everything TryAcceptFlow and TryReadMessage have before it waits again.
func (s *Session) Readable() <-chan struct{} { return s.readable }

// ForwardIHello sends a Forwarded IHello (RFC 7016 §2.3.3) to the peer on
// behalf of an initiator at replyAddr: the rendezvous half of a P2P
// introduction. The peer answers the initiator directly.
func (s *Session) ForwardIHello(epd []byte, replyAddr netip.AddrPort, tag []byte) error {
	b, err := appendFIHello(nil, epd, replyAddr, tag)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return s.errOrClosed()
	}
	if len(s.forwards) < 16 {
		s.forwards = append(s.forwards, b)
	}
	s.signal()
	return nil
}

// appendFIHello appends a complete Forwarded IHello chunk.
func appendFIHello(b, epd []byte, replyAddr netip.AddrPort, tag []byte) ([]byte, error) {
	return wire.AppendFIHello(b, &wire.FIHello{EPD: epd, ReplyAddress: wire.Address{AddrPort: replyAddr, Origin: wire.OriginObserved}, Tag: tag})
}

func (s *Session) errOrClosed() error {
	if s.err != nil {
		return s.err
	}
	return ErrClosed
}

// emit queues an event without blocking.
func (s *Session) emit(ev Event) {
	select {
	case s.events <- ev:
	default:
	}
}

// directMaxDatagram is the largest datagram deliver handles on the read
// loop's goroutine: room for an acknowledgement with a few ranges.
const directMaxDatagram = 256

// deliver hands a datagram from the read loop to the session; it reports
// false (the caller keeps the buffer) if the session's queue is full.
//
// A small datagram for an open session whose lock is free and whose queue
// is empty is handled right here, on the read loop's goroutine, and the
// session's own goroutine is woken only if it has something to do now or
// a deadline earlier than its timer's (runNeeded). Most datagrams a server
// receives are a player's acknowledgements of live media, which change
// nothing the run loop must act on at once; waking the session for each
// of them cost a goroutine hand-off per acknowledgement. Larger ones
// (media from a publisher) stay on the session's goroutine, so that one
// read loop does not decrypt and reassemble every session's data.
func (s *Session) deliver(p *packet) bool {
	if len(p.buf) <= directMaxDatagram && p.plain == nil && s.mu.TryLock() {
		// Not while an earlier datagram is queued or being processed:
		// a Close must not overtake the data sent before it.
		if s.state == stateOpen && s.rxQueued.Load() == 0 {
			at := p.at
			s.receive(p) // recycles p
			wake := s.runNeeded(at)
			s.mu.Unlock()
			if wake {
				s.signal()
			}
			return true
		}
		s.mu.Unlock()
	}
	s.rxQueued.Add(1)
	select {
	case s.rx <- p:
		return true
	default:
		s.rxQueued.Add(-1)
		return false
	}
}
