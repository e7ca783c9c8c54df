package rtmp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"

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
	writerInitialBuffer = 1 << 10

	// writerPooledSegments is the room of a pooled segment list: a
	// video frame's chunk headers and payload slices and a few audio
	// messages, and a keyframe's several dozen. Lists live in the pool
	// between flushes, not in the Writers, so room costs only the
	// flushes in progress.
	writerPooledSegments = 64

	// writerKeptSegments is the longest list the pool takes back; one
	// grown longer by a start-up burst (the GOP cache) is left to the
	// collector.
	writerKeptSegments = 256
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

// BuffersWriter is a connection that writes several buffers in one call
// itself; the Writer uses it instead of net.Buffers.WriteTo, which only
// reaches writev for the net package's own connection types. It consumes v
// as WriteTo does.
type BuffersWriter interface {
	io.Writer
	WriteBuffers(v *net.Buffers) (int64, error)
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
	w   io.Writer
	buf []byte
	// pooled is the pool's slice that buf came from while buf has not
	// outgrown it; Flush gives it back once everything is written.
	pooled    *[]byte
	chunkSize uint32
	streams   chunkStreams[outStream]
	err       error
	written   uint64

	// Pre-chunked messages are not copied: vec collects the buffer's
	// segments and the shared chunk slices in order, and Flush hands them
	// to the connection in one vectored write. mark is where the buffer's
	// next segment starts; queued counts the shared bytes.
	vec    net.Buffers
	vecp   *net.Buffers // the pool's slice that vec started from (nil: none taken)
	out    net.Buffers  // what WriteTo consumes; a field so it does not escape per call
	mark   int
	queued int
}

// NewWriter returns a Writer writing chunks to w, with the default chunk
// size of 128. Its buffer comes from a pool when a message is written and
// goes back once flushed; one that had to grow for larger messages (up to
// about twice the 64 KiB flush threshold) is kept instead.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, chunkSize: DefaultChunkSize}
}

// writerBuffers holds small Writer buffers between uses. A player's live
// media goes out as shared pre-chunked frames that never touch the
// buffer, so thousands of players need no buffer of their own.
var writerBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, writerInitialBuffer)
	return &b
}}

// writerVectors holds the segment lists of pre-chunked writes between
// flushes.
var writerVectors = sync.Pool{New: func() any {
	v := make(net.Buffers, 0, writerPooledSegments)
	return &v
}}

// takeBuffer gives the Writer a buffer if it has none.
func (w *Writer) takeBuffer() {
	if w.buf == nil {
		w.pooled = writerBuffers.Get().(*[]byte)
		w.buf = (*w.pooled)[:0]
	}
}

// returnBuffer gives an empty buffer back to the pool unless it has grown
// past the pool's size (it is then kept: this Writer writes large messages
// through its buffer).
func (w *Writer) returnBuffer() {
	if w.pooled == nil || len(w.buf) > 0 {
		return
	}
	if cap(w.buf) == cap(*w.pooled) {
		*w.pooled = w.buf[:0]
		writerBuffers.Put(w.pooled)
		w.buf = nil
	}
	w.pooled = nil
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
func (w *Writer) Buffered() int { return len(w.buf) + w.queued }

// BytesWritten is the number of bytes written to the connection so far.
func (w *Writer) BytesWritten() uint64 { return w.written }

// Flush writes any buffered chunks to the underlying writer: in one write,
// or, when pre-chunked messages are queued, in one vectored write (writev
// on a TCP connection).
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.vec) == 0 {
		if len(w.buf) == 0 {
			return nil
		}
		err := w.write(w.buf)
		w.buf = w.buf[:0]
		if err == nil {
			w.returnBuffer()
		}
		return err
	}
	if w.mark < len(w.buf) {
		w.vec = append(w.vec, w.buf[w.mark:])
	}
	want := int64(len(w.buf) + w.queued)
	w.out = w.vec // WriteTo consumes its receiver; keep w.vec's array for reuse
	var n int64
	var err error
	if bw, ok := w.w.(BuffersWriter); ok {
		n, err = bw.WriteBuffers(&w.out)
	} else {
		n, err = w.out.WriteTo(w.w)
	}
	w.out = nil
	w.written += uint64(n)
	if err == nil && n < want {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("rtmp: writing chunks: %w", err)
	}
	w.reset()
	return w.err
}

// reset empties the Writer after its chunks went to the connection: the
// segment list goes back to the pool and, unless a write failed, the
// buffer too.
func (w *Writer) reset() {
	w.putVector()
	w.buf, w.mark, w.queued = w.buf[:0], 0, 0
	if w.err == nil {
		w.returnBuffer()
	}
}

// Pending appends what is buffered to dst, as the segments of one vector
// write, for a caller that makes the write itself (a server gathering many
// connections' writes into one system call), and returns it; nothing is
// appended when nothing is buffered or the Writer has failed. The Writer
// keeps no list of the segments (a server gathering thousands of writes
// would otherwise hold a list per connection), but until Sent it takes no
// messages and its buffer, which segments may point into, stays as it is.
func (w *Writer) Pending(dst net.Buffers) net.Buffers {
	if w.err != nil || w.Buffered() == 0 {
		return dst
	}
	dst = append(dst, w.vec...)
	if w.mark < len(w.buf) {
		dst = append(dst, w.buf[w.mark:])
		w.mark = len(w.buf)
	}
	w.putVector()
	return dst
}

// Sent records that the segments from Pending were written, all of them
// (a connection that takes less keeps the rest itself), and empties the
// Writer for the next messages.
func (w *Writer) Sent() {
	w.written += uint64(len(w.buf) + w.queued)
	w.reset()
}

// putVector gives the segment list back to the pool, unless it grew past
// what the pool keeps: between flushes a Writer holds none (a server
// holds thousands of Writers).
func (w *Writer) putVector() {
	clear(w.vec) // drop references to shared chunk buffers
	if w.vecp != nil && cap(w.vec) <= writerKeptSegments {
		*w.vecp = w.vec[:0]
		writerVectors.Put(w.vecp)
	}
	w.vecp, w.vec = nil, nil
}

// write writes p to the connection, recording the first error.
func (w *Writer) write(p []byte) error {
	if len(w.vec) > 0 {
		// Keep the order: what is queued goes first.
		w.vec = append(w.vec, p)
		w.queued += len(p)
		return w.Flush()
	}
	n, err := w.w.Write(p)
	w.written += uint64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("rtmp: writing chunks: %w", err)
	}
	return w.err
}

// ChunkVector splits m into chunks of chunkSize on chunk stream csid in a
// form that does not depend on what was sent before: a type 0 header on
// the first chunk and type 3 headers on the rest (with the extended
// timestamp in each when in effect, errata §5.1). Every connection with
// the same chunk size can send the result as it is, which is how one live
// frame is chunked once for all of its RTMP players (WritePrechunked).
//
// The payload is not copied: the result alternates header bytes with
// slices of m.Payload (every continuation header is the same slice), so
// chunking a frame costs a few dozen bytes however large it is, and the
// kernel copies the payload straight from the publisher's buffer. m.Payload
// must not change while the result is in use.
func ChunkVector(csid uint32, m protocol.Message, chunkSize uint32) [][]byte {
	chunkSize = min(chunkSize, maxEffectiveChunkSize)
	ext := m.Timestamp >= extendedTimestamp
	length := uint32(len(m.Payload))
	chunks := max((length+chunkSize-1)/chunkSize, 1)
	// A type 0 header and a type 3 one, each with a 3-byte basic header
	// and an extended timestamp at most.
	hdr := make([]byte, 0, 2*(3+4)+messageHeaderSize[fmtFull])
	hdr = appendBasicHeader(hdr, fmtFull, csid)
	hdr = appendUint24(hdr, min(m.Timestamp, extendedTimestamp))
	hdr = appendUint24(hdr, length)
	hdr = append(hdr, byte(m.Type))
	hdr = binary.LittleEndian.AppendUint32(hdr, m.StreamID)
	if ext {
		hdr = binary.BigEndian.AppendUint32(hdr, m.Timestamp)
	}
	first := hdr[:len(hdr):len(hdr)]
	hdr = appendBasicHeader(hdr, fmtContinued, csid)
	if ext {
		hdr = binary.BigEndian.AppendUint32(hdr, m.Timestamp)
	}
	cont := hdr[len(first):]
	v := make([][]byte, 0, 2*chunks)
	p := m.Payload
	for i := range chunks {
		if i == 0 {
			v = append(v, first)
		} else {
			v = append(v, cont)
		}
		n := min(uint32(len(p)), chunkSize)
		if n > 0 {
			v = append(v, p[:n:n])
		}
		p = p[n:]
	}
	return v
}

// WritePrechunked queues chunks, which ChunkVector made from m for csid at
// this Writer's chunk size, without copying them, and records m as the
// chunk stream's last message so that later headers compress against it.
// chunks must not change until the next Flush returns.
func (w *Writer) WritePrechunked(csid uint32, m protocol.Message, chunks [][]byte) error {
	if w.err != nil {
		return w.err
	}
	if csid < MinChunkStreamID || csid > MaxChunkStreamID {
		return fmt.Errorf("%w: %d", ErrInvalidChunkStreamID, csid)
	}
	st := w.streams.get(csid)
	if st == nil {
		st = w.streams.add(csid)
	}
	st.used = false // the shared chunks start with a type 0 header
	st.advance(m)
	if w.vecp == nil {
		// Without a pooled list nothing is queued: vec is empty.
		w.vecp = writerVectors.Get().(*net.Buffers)
		w.vec = (*w.vecp)[:0]
	}
	if w.mark < len(w.buf) {
		w.vec = append(w.vec, w.buf[w.mark:])
		w.mark = len(w.buf)
	}
	for _, c := range chunks {
		w.vec = append(w.vec, c)
		w.queued += len(c)
	}
	if w.Buffered() >= writerFlushThreshold {
		return w.Flush()
	}
	return nil
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
	if w.Buffered() > 0 && w.Buffered()+size > writerFlushThreshold {
		if err := w.Flush(); err != nil {
			return err
		}
	}

	w.takeBuffer()
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
			w.takeBuffer()
			b = w.buf
		} else {
			b = append(b, p[:n]...)
		}
		p = p[n:]
		w.buf = b
		if len(p) > 0 && w.Buffered() >= writerFlushThreshold {
			if err := w.Flush(); err != nil {
				return err
			}
			w.takeBuffer()
			b = w.buf
		}
	}
	if w.Buffered() >= writerFlushThreshold {
		return w.Flush()
	}
	return nil
}
