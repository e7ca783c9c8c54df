package netconn

import (
	"context"
	"net"
	"time"

	"github.com/nimbus-media/nimbus/amf"
)

// Transport is what a protocol connection offers the core: everything the
// core may ask of it, so that a new transport learns its duties from this
// interface alone. A method that does not apply to a transport says so in
// its implementation and returns the zero value.
type Transport interface {
	// Protocol names the transport as the admin API and the logs show it:
	// "rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte" or "rtmfp".
	Protocol() string
	RemoteAddr() net.Addr
	// FarID is the client's identity at the transport level (RTMFP: its
	// peer ID in hex, NetConnection.farID on the server); empty if none.
	FarID() string
	// ConnectAccepted queues the transport's own messages that must precede
	// the connect _result (RTMP: window size, peer bandwidth, StreamBegin 0,
	// chunk size).
	ConnectAccepted(out *Outbox) error
	// ConnectInfo returns the transport's own properties for the connect
	// result's information object (RTMFP: the client's peer ID and the
	// server's fingerprint, as rtmfp-cpp's tcserver returns them). It is
	// called once, when the connect has been accepted.
	ConnectInfo() []amf.Property
	// ConnectResultSent queues what must follow the connect _result
	// (RTMFP: the keepalive periods).
	ConnectResultSent(out *Outbox) error
	// InputPending reports whether more of the client's input already
	// waits to be read. A publisher's frames with more behind them are
	// routed with media.Stream.WriteMore, so that a fan-out that fell
	// behind catches up in fewer, larger writes.
	InputPending() bool
	// Silence is the time since the transport last received anything.
	Silence() time.Duration
	// Stats reports traffic counters for monitoring.
	Stats() TransportStats
	// Context is the connection's lifetime: it is done once Close has
	// been called. What the core waits on for the client (HTTP callbacks)
	// runs under it, so closing the connection cancels the wait.
	Context() context.Context
	// Close ends the connection at once. It is idempotent, must not block,
	// and may be called from any goroutine.
	Close(cause error)
}

// TransportStats are a transport's counters.
type TransportStats struct {
	BytesIn, BytesOut uint64
	RTT               time.Duration
}
