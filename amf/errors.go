package amf

import (
	"errors"
	"strconv"
)

// Sentinel errors. Decoding errors are returned as *DecodeError, which
// records the input offset and unwraps to one of these, so callers test
// with errors.Is.
var (
	// ErrTruncated means the input ended inside a value.
	ErrTruncated = errors.New("amf: truncated input")
	// ErrDepth means a value nests deeper than Decoder.MaxDepth (or
	// Encoder.MaxDepth when encoding), counting nesting reached through
	// references.
	ErrDepth = errors.New("amf: nesting too deep")
	// ErrTooManyElements means decoding would produce more than
	// Decoder.MaxElements values, counting a referenced value again each
	// time it is referenced.
	ErrTooManyElements = errors.New("amf: too many elements")
	// ErrUnknownMarker means a type marker that is undefined, reserved
	// (AMF0 movieclip and recordset) or out of place (AMF0 object-end).
	ErrUnknownMarker = errors.New("amf: unknown or reserved type marker")
	// ErrExternalizable means an AMF3 externalizable object whose class has
	// no reader registered with Decoder.RegisterExternalizable.
	ErrExternalizable = errors.New("amf: externalizable class not registered")
	// ErrReference means a reference to a table entry that does not exist,
	// or to an object that is still being decoded (a cycle).
	ErrReference = errors.New("amf: bad reference")
	// ErrRange means a U29 integer wider than 29 bits on the wire, or a
	// length, count or index too large for the format when encoding.
	ErrRange = errors.New("amf: value out of range")
	// ErrUnsupportedType means the encoder was given a Go type it has no
	// AMF form for.
	ErrUnsupportedType = errors.New("amf: unsupported Go type")
	// ErrInvalidValue means a value of a supported type that cannot be
	// encoded as given, such as a typed object whose Sealed count exceeds
	// its properties, or an invalid argument such as a negative length.
	ErrInvalidValue = errors.New("amf: invalid value")
)

// DecodeError is the error returned by the decoder. Offset is the input
// offset at which the problem was found, counted from the start of the buffer
// passed to Reset.
type DecodeError struct {
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return e.Err.Error() + " at offset " + strconv.Itoa(e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Err }
