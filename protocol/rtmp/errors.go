package rtmp

import (
	"errors"
	"io"
)

// Sentinel errors. Functions in this package wrap them with the detail that
// caused them (a version byte, a chunk stream ID, a length), so match them
// with errors.Is.
var (
	// ErrNotRTMP is returned when C0 holds a value of 32 or more. RTMP 1.0
	// §5.2.1 forbids those values so that a server can tell RTMP from a
	// text protocol (an HTTP request, say) arriving on the same port.
	ErrNotRTMP = errors.New("rtmp: not an RTMP handshake")

	// ErrUnsupportedVersion is returned when the peer asks for a protocol
	// version this package does not speak or was told to refuse: RTMPE
	// with Blowfish signatures (C0 = 9), RTMPE when it is off, or an S0
	// other than the C0 sent in a client handshake.
	ErrUnsupportedVersion = errors.New("rtmp: unsupported handshake version")

	// ErrDigestMismatch is returned by a digest-mode ClientHandshake when a
	// server that answered with a digest-style S1 sent an S1 or S2 whose
	// HMAC does not verify, and by an RTMPE handshake, which needs the
	// digest to locate the public key, when either side's does not.
	ErrDigestMismatch = errors.New("rtmp: handshake digest mismatch")

	// ErrRTMPEKey is returned when an RTMPE peer's Diffie-Hellman public
	// key is one that would give the shared secret away (0, 1, p-1) or is
	// not an element of the group (p or more).
	ErrRTMPEKey = errors.New("rtmp: invalid RTMPE public key")

	// ErrMessageTooLarge is returned when a message is longer than the
	// reader's limit, or longer than the 24-bit length field allows on write.
	ErrMessageTooLarge = errors.New("rtmp: message too large")

	// ErrInvalidChunkSize is returned for a Set Chunk Size of 0 or with the
	// top bit set (RTMP 1.0 §5.4.1).
	ErrInvalidChunkSize = errors.New("rtmp: invalid chunk size")

	// ErrNoPreviousHeader is returned for a type 1, 2 or 3 chunk on a chunk
	// stream that has never carried a type 0 chunk, so there is nothing for
	// the compressed header to refer to.
	ErrNoPreviousHeader = errors.New("rtmp: compressed chunk header without a previous header")

	// ErrTooManyChunkStreams is returned when a peer opens more chunk
	// streams than a reader keeps state for.
	ErrTooManyChunkStreams = errors.New("rtmp: too many chunk streams")

	// ErrReassemblyLimit is returned when the partial messages a peer has
	// started on all chunk streams together would need more memory than
	// the reader allows.
	ErrReassemblyLimit = errors.New("rtmp: reassembly memory limit exceeded")

	// ErrInvalidChunkStreamID is returned by Writer.WriteMessage for a chunk
	// stream ID outside 2..65599, the range the basic header can encode.
	ErrInvalidChunkStreamID = errors.New("rtmp: invalid chunk stream ID")

	// ErrShortPayload is returned when a control or user control message is
	// shorter than its layout requires.
	ErrShortPayload = errors.New("rtmp: payload too short")

	// ErrInvalidAggregate is returned for an aggregate message whose
	// sub-messages do not fit in its payload, or that nests an aggregate.
	ErrInvalidAggregate = errors.New("rtmp: invalid aggregate message")
)

// unexpected turns a clean EOF in the middle of a handshake or a chunk into
// io.ErrUnexpectedEOF: the peer went away partway through.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
