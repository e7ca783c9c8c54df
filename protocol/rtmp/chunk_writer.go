package rtmp

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol"
)

const (
	// writerFlushThreshold is how much a Writer buffers before writing to
	// the connection: enough to batch a GOP's worth of small audio
	// messages into one system call, small enough to keep latency and
	// per-connection memory low.
	writerFlushThreshold = 64 << 10

	// writerInitialBuffer is the buffer a Writer starts with; it grows on
	// demand up to about twice the flush threshold and is then reused.
	writerInitialBuffer = 4 << 10
)

// outStream is the send state of one chunk stream: the header fields of the
// last message, from which the next header is compressed.
type outStream struct {
	timestamp uint32
	delta     uint32
	length    uint32
	streamID  uint32
	typ       protocol.Type
	extended  bool   // the last type 0, 1 or 2 header had an extended timestamp
	extValue  uint32 // and this was its value
	// deltaSent reports whether the last header carried delta as a delta.
	// After a type 0 header it did not.
	deltaSent bool
	used      bool
}

// advance picks the header format for m, records m as the last message on
// the chunk stream, and returns the format and the value of its timestamp
// field: the timestamp for type 0, the delta for types 1 and 2.
func (st *outStream) advance(m protocol.Message) (format uint8, field uint32) {
	length := uint32(len(m.Payload))
	delta := m.Timestamp - st.timestamp
	switch {
	case !st.used || m.StreamID != st.streamID || m.Timestamp < st.timestamp:
		format, field = fmtFull, m.Timestamp
	case length != st.length || m.Type != st.typ:
		format, field = fmtSameID, delta
	case delta != st.delta || !st.deltaSent:
		format, field = fmtDelta, delta
	default:
		format = fmtContinued
	}
	if format != fmtContinued {
		st.extended = field >= extendedTimestamp
		st.extValue = field
	}
	st.timestamp = m.Timestamp
	st.delta = delta
	st.length = length
	st.streamID = m.StreamID
	st.typ = m.Type
	st.deltaSent = format != fmtFull
	st.used = true
	return format, field
}

// Writer splits messages into chunks (RTMP 1.0 §5.3) and buffers them for
// the connection. It is not safe for concurrent use.
//
// Headers are compressed per chunk stream: type 0 for the first message, a
// new message stream ID or a timestamp that goes backwards; type 1 when the
// length or type changes; type 2 when only the timestamp delta changes;
// type 3 when the delta repeats too. After a type 0 header the next message
// gets a type 2 header rather than a type 3 one even if its delta equals
// the type 0 timestamp, which is what RTMP 1.0 §5.3.1.2.4 says a type 3
// would mean: receivers disagree on that rule, and three bytes once are a
// small price for not depending on it.
//
// After a write error the Writer keeps returning that error.
type Writer struct {
	w         io.Writer
	buf       []byte
	chunkSize uint32
	streams   chunkStreams[outStream]
	err       error
}

// NewWriter returns a Writer writing chunks to w, with the default chunk
// size of 128. Its buffer starts at 4 KiB and grows as needed to at most
// about twice the 64 KiB flush threshold.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		w:         w,
		buf:       make([]byte, 0, writerInitialBuffer),
		chunkSize: DefaultChunkSize,
	}
}

// SetChunkSize sets the chunk size for the messages written afterwards. The
// caller sends the Set Chunk Size message itself, before calling this, so
// that the peer reads the following chunks with the new size. Sizes above
// MaxMessageLength behave as MaxMessageLength. SetChunkSize panics on 0 or
// a size with the top bit set, which the peer would reject.
func (w *Writer) SetChunkSize(n uint32) {
	if n == 0 || n&0x80000000 != 0 {
		panic(fmt.Sprintf("rtmp: invalid chunk size %d", n))
	}
	w.chunkSize = n
}

// ChunkSize returns the chunk size set last.
func (w *Writer) ChunkSize() uint32 { return w.chunkSize }

// Buffered returns how many bytes are waiting to be written.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes any buffered chunks to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	err := w.write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// write writes p to the connection, recording the first error.
func (w *Writer) write(p []byte) error {
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("rtmp: writing chunks: %w", err)
	}
	return w.err
}

// WriteMessage appends the chunks of m on chunk stream csid to the buffer.
// The buffer is written out once it reaches 64 KiB, and before a message
// that would push it past that, so that a message that fits in the buffer
// reaches the connection in one write. A longer message is written in
// pieces of about that size, its large chunk payloads directly from
// m.Payload. Call Flush to write out what is left.
//
// m.Payload is not retained.
func (w *Writer) WriteMessage(csid uint32, m protocol.Message) error {
	if w.err != nil {
		return w.err
	}
	if csid < MinChunkStreamID || csid > MaxChunkStreamID {
		return fmt.Errorf("%w: %d", ErrInvalidChunkStreamID, csid)
	}
	if len(m.Payload) > MaxMessageLength {
		return fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(m.Payload))
	}
	st := w.streams.get(csid)
	if st == nil {
		st = w.streams.add(csid)
	}
	format, field := st.advance(m)
	length := uint32(len(m.Payload))

	chunkSize := min(w.chunkSize, maxEffectiveChunkSize)
	ext := 0
	if st.extended {
		ext = 4
	}
	chunks := max((length+chunkSize-1)/chunkSize, 1)
	size := basicHeaderSize(csid) + messageHeaderSize[format] + ext + int(length) +
		int(chunks-1)*(basicHeaderSize(csid)+ext)
	if len(w.buf) > 0 && len(w.buf)+size > writerFlushThreshold {
		if err := w.Flush(); err != nil {
			return err
		}
	}

	b := appendBasicHeader(w.buf, format, csid)
	switch format {
	case fmtFull:
		b = appendUint24(b, min(field, extendedTimestamp))
		b = appendUint24(b, length)
		b = append(b, byte(m.Type))
		b = binary.LittleEndian.AppendUint32(b, m.StreamID)
	case fmtSameID:
		b = appendUint24(b, min(field, extendedTimestamp))
		b = appendUint24(b, length)
		b = append(b, byte(m.Type))
	case fmtDelta:
		b = appendUint24(b, min(field, extendedTimestamp))
	}
	p := m.Payload
	for first := true; first || len(p) > 0; first = false {
		if !first {
			b = appendBasicHeader(b, fmtContinued, csid)
		}
		// Errata §5.1: while in effect, the extended timestamp is in every
		// chunk header, type 3 ones included.
		if st.extended {
			b = binary.BigEndian.AppendUint32(b, st.extValue)
		}
		n := min(uint32(len(p)), chunkSize)
		if n >= writerFlushThreshold {
			// Too big to be worth copying: write the headers so far, then
			// the payload straight from the caller's slice.
			w.buf = b
			if err := w.Flush(); err != nil {
				return err
			}
			if err := w.write(p[:n]); err != nil {
				return err
			}
			b = w.buf
		} else {
			b = append(b, p[:n]...)
		}
		p = p[n:]
		w.buf = b
		if len(p) > 0 && len(b) >= writerFlushThreshold {
			if err := w.Flush(); err != nil {
				return err
			}
			b = w.buf
		}
	}
	if len(w.buf) >= writerFlushThreshold {
		return w.Flush()
	}
	return nil
}
