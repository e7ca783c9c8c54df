package rtmfp

import (
	"errors"
	"fmt"
	"net"
)

// Sentinel errors. Errors that end a session are reported by Session.Err
// and wrap one of these; test them with errors.Is.
var (
	// ErrClosed means the endpoint, session or flow was closed locally.
	// It wraps net.ErrClosed.
	ErrClosed = fmt.Errorf("rtmfp: closed: %w", net.ErrClosed)
	// ErrPeerClosed means the far end closed the session (Close chunk).
	ErrPeerClosed = errors.New("rtmfp: session closed by peer")
	// ErrIdleTimeout means nothing was heard from the peer for the idle
	// timeout despite keepalive pings.
	ErrIdleTimeout = errors.New("rtmfp: session idle timeout")
	// ErrHandshakeTimeout means Dial got no answer in time.
	ErrHandshakeTimeout = errors.New("rtmfp: handshake timeout")
	// ErrHandshake means the peer's handshake messages were unacceptable
	// (certificate, keying or negotiation failure).
	ErrHandshake = errors.New("rtmfp: handshake failed")
	// ErrWouldBlock means a flow's send buffer is full; wait on
	// SendFlow.Writable or use WriteContext.
	ErrWouldBlock = errors.New("rtmfp: send buffer full")
	// ErrMessageTooLarge means a message exceeds the flow's send buffer.
	ErrMessageTooLarge = errors.New("rtmfp: message larger than the send buffer")
	// ErrFlowRejected means the receiver rejected the flow (Flow Exception
	// Report); the code is available through FlowError.
	ErrFlowRejected = errors.New("rtmfp: flow rejected by receiver")
	// ErrTooManyFlows means the per-session flow limit was reached.
	ErrTooManyFlows = errors.New("rtmfp: too many flows")
	// ErrMetadataTooLarge means flow metadata exceeds MaxMetadata bytes.
	ErrMetadataTooLarge = errors.New("rtmfp: flow metadata too large")
	// ErrInvalidAssociation means a return association names a flow that
	// is not an open receiving flow of this session.
	ErrInvalidAssociation = errors.New("rtmfp: invalid return flow association")
)

// FlowError reports a receiver's exception code for a rejected flow.
type FlowError struct {
	Code uint64
}

func (e *FlowError) Error() string {
	return fmt.Sprintf("rtmfp: flow rejected with exception %d", e.Code)
}

// Is makes errors.Is(err, ErrFlowRejected) true for a *FlowError.
func (e *FlowError) Is(target error) bool { return target == ErrFlowRejected }
