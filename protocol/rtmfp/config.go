package rtmfp

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
)

// Hello describes an Initiator Hello (RFC 7016 §2.3.2) for the Config hooks
// that decide whether and how to answer it. Its byte slices are copies the
// hook may keep.
type Hello struct {
	From netip.AddrPort
	Tag  []byte
	// EPD is the raw endpoint discriminator; URL and Fingerprint are its
	// decoded ancillary-data and fingerprint options, if present.
	EPD            []byte
	URL            string
	Fingerprint    [32]byte
	HasFingerprint bool
}

// Config configures an Endpoint. The zero value is usable: every zero field
// takes the default documented on it.
type Config struct {
	// Identity is this endpoint's certificate. Nil generates an
	// ephemeral-style one offering DHGroups that accepts URL EPDs, so the
	// endpoint's peer ID changes with every Listen.
	Identity *flashcrypto.Identity
	// DHGroups lists the Diffie-Hellman groups this end accepts and
	// offers, in preference order. Default: 16, 14, 5, 2.
	DHGroups []flashcrypto.GroupID
	// Integrity is what this end requires of packet integrity: the zero
	// value runs the Flash default (16-bit checksum, HMAC/SSEQ only when
	// the peer asks); HMAC and SSEQ true require them, as rtmfp-cpp does.
	Integrity flashcrypto.Policy

	// AcceptHello decides whether to answer an IHello that selects this
	// endpoint (a URL EPD, or a fingerprint EPD equal to our peer ID).
	// Nil accepts all. It runs on the socket's read goroutine: keep it
	// fast.
	AcceptHello func(*Hello) bool
	// UnmatchedHello receives IHellos whose fingerprint names another
	// peer: rendezvous answers them with Endpoint.SendRedirect and
	// Session.ForwardIHello. Nil ignores them. Runs on the read goroutine.
	UnmatchedHello func(*Hello)

	// KeepaliveInterval is how long a session may be silent before we ping
	// it. Default 10 s.
	KeepaliveInterval time.Duration
	// IdleTimeout closes a session from which nothing was heard for this
	// long. Default 120 s.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds Dial. Default 30 s.
	HandshakeTimeout time.Duration
	// HandshakeRetransmit is the initial IHello/IIKeying retransmission
	// interval, backed off ×1.5. Default 1 s (rtmfp-cpp's value).
	HandshakeRetransmit time.Duration
	// CloseTimeout is how long Close waits for the peer's Close Ack while
	// retransmitting Close. Default 5 s.
	CloseTimeout time.Duration
	// CloseLinger is how long a session closed by the peer keeps answering
	// its Close retransmissions (S_FARCLOSE_LINGER). Default 19 s.
	CloseLinger time.Duration
	// CookieLifetime bounds the age of an RHello cookie. Default 95 s.
	CookieLifetime time.Duration

	// MaxSessions caps established and pending sessions. Default 10000.
	MaxSessions int
	// AcceptBacklog is the number of sessions waiting for Accept; more
	// IIKeyings are ignored (the initiator retransmits). Default 64.
	AcceptBacklog int
	// MaxConcurrentKeying caps Diffie-Hellman computations in progress for
	// IIKeyings. Default 4.
	MaxConcurrentKeying int
	// HelloRate is how many handshake replies per second one source
	// address (hashed into a fixed table) may elicit before we stay
	// silent: the bound on what the responder sends to unverified
	// addresses. Default 20.
	HelloRate int

	// MaxFlows caps open flows per session and direction. Default 1024.
	MaxFlows int
	// SendBuffer is the per-flow byte limit of queued unacknowledged data.
	// Default 4 MiB.
	SendBuffer int
	// RecvBuffer is the per-flow receive buffer advertised to the sender.
	// Default 4 MiB.
	RecvBuffer int

	// FlashStrict makes this end receive as Flash Player does: it drops
	// every packet whose header a Flash-profile receiver would not take
	// (wire.FlashAccepts) and counts it in Endpoint.FlashDropped. Tests run
	// their clients this way so that the server never sends what Flash
	// drops; a server leaves it off, since RFC 7016 peers may legally omit
	// an unchanged timestamp.
	FlashStrict bool

	// Logger receives debug and error logs; nil disables logging.
	Logger *zap.Logger
}

// MaxMetadata is the largest flow metadata accepted (rtmfp-cpp's
// MAX_METADATA_LENGTH; RFC 7016 §2.3.11.1.1 says it SHOULD NOT exceed 512).
const MaxMetadata = 512

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	if len(c.DHGroups) == 0 {
		c.DHGroups = flashcrypto.AllGroups
	}
	def(&c.KeepaliveInterval, 10*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.HandshakeTimeout, 30*time.Second)
	def(&c.HandshakeRetransmit, time.Second)
	def(&c.CloseTimeout, 5*time.Second)
	def(&c.CloseLinger, 19*time.Second)
	def(&c.CookieLifetime, 95*time.Second)
	defInt(&c.MaxSessions, 10000)
	defInt(&c.AcceptBacklog, 64)
	defInt(&c.MaxConcurrentKeying, 4)
	defInt(&c.HelloRate, 20)
	defInt(&c.MaxFlows, 1024)
	defInt(&c.SendBuffer, 4<<20)
	defInt(&c.RecvBuffer, 4<<20)
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
