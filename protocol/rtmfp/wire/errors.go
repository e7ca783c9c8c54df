package wire

import "errors"

// Sentinel errors returned by the parsers. They are wrapped with context with
// fmt.Errorf("...: %w", err) by callers that need it; test with errors.Is.
var (
	// ErrShort means the input ended before a syntax element was complete.
	ErrShort = errors.New("rtmfp/wire: truncated input")
	// ErrVLUOverflow means a VLU does not fit in 64 bits.
	ErrVLUOverflow = errors.New("rtmfp/wire: VLU overflows 64 bits")
	// ErrMode means a packet header carries the forbidden packet mode 0.
	ErrMode = errors.New("rtmfp/wire: invalid packet mode")
	// ErrChunkTooLong means a chunk payload exceeds 65535 bytes.
	ErrChunkTooLong = errors.New("rtmfp/wire: chunk payload exceeds 65535 bytes")
	// ErrAddress means an Address (RFC 7016 §2.1.5) is malformed.
	ErrAddress = errors.New("rtmfp/wire: malformed address")
	// ErrInvalid means a field holds a value the RFC forbids.
	ErrInvalid = errors.New("rtmfp/wire: invalid field value")
)
