package rtmp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/nimbus-media/nimbus/protocol"
)

const (
	// readerBufferSize is the size of the Reader's bufio.Reader. Most
	// connections are players that send a few small messages, and a
	// server holds thousands of them, so it is small; a publisher's large
	// chunks are read straight into the message buffer past it anyway,
	// and one with 128-byte chunks makes a read per eight of them.
	readerBufferSize = 1 << 10

	// maxReaderChunkStreams caps how many chunk streams a peer can make a
	// Reader keep state for. Real clients use a handful.
	maxReaderChunkStreams = 64

	// reassemblyInitial is how much of a message's declared length a
	// reassembly buffer reserves on its first chunk. Longer messages grow
	// the buffer as their data arrives, so a peer must send the bytes it
	// declares before the Reader holds memory for them.
	reassemblyInitial = 64 << 10
)

// inStream is the receive state of one chunk stream (RTMP 1.0 §5.3.1.2):
// the header fields that compressed headers leave out, and the message
// being reassembled.
type inStream struct {
	timestamp uint32 // of the current or last message
	delta     uint32 // timestamp delta that a new-message type 3 chunk reuses
	length    uint32
	streamID  uint32
	typ       protocol.Type
	// extended reports whether the last type 0, 1 or 2 header had an
	// extended timestamp, which every type 3 chunk then repeats (errata
	// §5.1); extValue is the value it carried.
	extended bool
	extValue uint32
	received uint32 // bytes of the current message so far; 0 between messages
	buf      []byte // reassembly buffer; len(buf) == cap(buf)
}

// Reader reads chunks from a connection and returns the messages they carry
// (RTMP 1.0 §5.3). It is not safe for concurrent use.
//
// Memory is bounded by what the caller allows, never by what the peer
// declares: a message longer than maxMessageSize fails before anything is
// allocated for it, reassembly buffers grow with the data that actually
// arrives, their total capacity across chunk streams is capped at twice
// maxMessageSize, and at most 64 chunk streams have state.
type Reader struct {
	src            io.Reader
	br             *bufio.Reader // nil while released (Release)
	streams        chunkStreams[inStream]
	chunkSize      uint32
	maxMessageSize uint32
	budget         uint64 // cap on the summed capacity of reassembly buffers
	held           uint64 // summed capacity of reassembly buffers
	bytesRead      uint64
	lastCSID       uint32
	hdr            [11]byte
}

// NewReader returns a Reader reading chunks from r through its own
// bufio.Reader, with the default chunk size of 128. maxMessageSize caps the
// length of a message; 0, or anything above MaxMessageLength, means
// MaxMessageLength.
func NewReader(r io.Reader, maxMessageSize uint32) *Reader {
	if maxMessageSize == 0 || maxMessageSize > MaxMessageLength {
		maxMessageSize = MaxMessageLength
	}
	return &Reader{
		src:            r,
		chunkSize:      DefaultChunkSize,
		maxMessageSize: maxMessageSize,
		budget:         2 * uint64(maxMessageSize),
	}
}

// Buffered returns how many bytes the Reader holds that it has not
// returned yet.
func (r *Reader) Buffered() int {
	if r.br == nil {
		return 0
	}
	return r.br.Buffered()
}

// readerBuffers holds the read buffers of Readers that hold no bytes: a
// server's idle players give theirs back between the few messages they
// send (Release).
var readerBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerBufferSize) }}

// Release gives the Reader's read buffer back to a pool shared by all
// Readers when it holds no unread bytes, and drops the reassembly buffers
// of chunk streams between messages (so, like ReadMessage, it ends the
// last message's payload); the next ReadMessage takes what it needs
// again. A connection that is about to wait long for input calls it, so
// that thousands of quiet connections do not each keep buffers.
func (r *Reader) Release() {
	r.releaseIdle()
	if r.br == nil || r.br.Buffered() > 0 {
		return
	}
	r.br.Reset(nil)
	readerBuffers.Put(r.br)
	r.br = nil
}

// ChunkSize returns the chunk size the peer set last, clamped to
// MaxMessageLength.
func (r *Reader) ChunkSize() uint32 { return r.chunkSize }

// BytesRead returns how many bytes the Reader has consumed: chunk headers
// and payloads up to the end of the last chunk read. It does not include
// the handshake. A connection sends acknowledgements from it (RTMP 1.0
// §5.4.3).
func (r *Reader) BytesRead() uint64 { return r.bytesRead }

// LastChunkStreamID returns the chunk stream ID of the message ReadMessage
// returned last.
func (r *Reader) LastChunkStreamID() uint32 { return r.lastCSID }

// ReadMessage reads chunks until one completes a message and returns it.
// The payload aliases a buffer of the Reader and is valid until the next
// call to ReadMessage.
//
// Set Chunk Size and Abort messages take effect in the Reader before they
// are returned, so the caller only needs to act on them for bookkeeping.
// A clean end of stream between chunks returns io.EOF; any other error
// wraps its cause, and the Reader should not be used after it.
func (r *Reader) ReadMessage() (protocol.Message, error) {
	if r.br == nil {
		r.br = readerBuffers.Get().(*bufio.Reader)
		r.br.Reset(r.src)
	}
	for {
		cs, csid, err := r.readChunk()
		if err != nil {
			return protocol.Message{}, err
		}
		if cs == nil {
			continue
		}
		m := protocol.Message{
			Type:      cs.typ,
			StreamID:  cs.streamID,
			Timestamp: cs.timestamp,
			Payload:   cs.buf[:cs.length:cs.length],
		}
		r.lastCSID = csid
		if err := r.apply(m); err != nil {
			return protocol.Message{}, err
		}
		return m, nil
	}
}

// apply carries out the protocol control messages that change how chunks
// are read (RTMP 1.0 §5.4.1, §5.4.2).
func (r *Reader) apply(m protocol.Message) error {
	switch m.Type {
	case protocol.TypeSetChunkSize:
		size, err := ParseUint32(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: set chunk size: %w", err)
		}
		if size == 0 || size&0x80000000 != 0 {
			return fmt.Errorf("%w: %d", ErrInvalidChunkSize, size)
		}
		r.chunkSize = min(size, maxEffectiveChunkSize)
	case protocol.TypeAbort:
		csid, err := ParseUint32(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: abort: %w", err)
		}
		// The aborted message's header still set the timestamp that the
		// next delta applies to (errata §6), so only the data goes.
		if cs := r.streams.get(csid); cs != nil {
			cs.received = 0
		}
	}
	return nil
}

// readChunk reads one chunk. It returns the chunk stream's state when the
// chunk completed a message, and nil otherwise.
func (r *Reader) readChunk() (*inStream, uint32, error) {
	b0, err := r.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("rtmp: reading chunk: %w", err)
	}
	r.bytesRead++
	format := b0 >> 6
	csid := uint32(b0 & 0x3f)
	switch csid {
	case basicHeader2:
		if err := r.readHeader(1); err != nil {
			return nil, 0, err
		}
		csid = uint32(r.hdr[0]) + 64
	case basicHeader3:
		if err := r.readHeader(2); err != nil {
			return nil, 0, err
		}
		csid = uint32(binary.LittleEndian.Uint16(r.hdr[:])) + 64
	}

	cs := r.streams.get(csid)
	if cs == nil {
		if format != fmtFull {
			return nil, 0, fmt.Errorf("%w: type %d chunk on chunk stream %d", ErrNoPreviousHeader, format, csid)
		}
		if r.streams.n >= maxReaderChunkStreams {
			return nil, 0, fmt.Errorf("%w: chunk stream %d would be number %d", ErrTooManyChunkStreams, csid, r.streams.n+1)
		}
		cs = r.streams.add(csid)
	}
	if err := r.readMessageHeader(cs, format, csid); err != nil {
		return nil, 0, err
	}

	n := min(cs.length-cs.received, r.chunkSize)
	end := cs.received + n
	if err := r.reserve(cs, end); err != nil {
		return nil, 0, err
	}
	if _, err := io.ReadFull(r.br, cs.buf[cs.received:end]); err != nil {
		return nil, 0, fmt.Errorf("rtmp: reading chunk payload on chunk stream %d: %w", csid, unexpected(err))
	}
	r.bytesRead += uint64(n)
	if end < cs.length {
		cs.received = end
		return nil, csid, nil
	}
	cs.received = 0
	return cs, csid, nil
}

// readHeader reads n header bytes into r.hdr.
func (r *Reader) readHeader(n int) error {
	if _, err := io.ReadFull(r.br, r.hdr[:n]); err != nil {
		return fmt.Errorf("rtmp: reading chunk header: %w", unexpected(err))
	}
	r.bytesRead += uint64(n)
	return nil
}

// readExtended reads an extended timestamp field.
func (r *Reader) readExtended(cs *inStream) (uint32, error) {
	if err := r.readHeader(4); err != nil {
		return 0, err
	}
	cs.extValue = binary.BigEndian.Uint32(r.hdr[:])
	return cs.extValue, nil
}

// readMessageHeader reads the message header of a chunk in the given format
// and updates the chunk stream's state from it (RTMP 1.0 §5.3.1.2).
func (r *Reader) readMessageHeader(cs *inStream, format uint8, csid uint32) error {
	if format == fmtContinued {
		return r.readContinued(cs)
	}
	if err := r.readHeader(messageHeaderSize[format]); err != nil {
		return err
	}
	// A full header in the middle of a message starts a new one; like
	// ffmpeg we drop the unfinished message rather than the connection.
	cs.received = 0
	t := uint24(r.hdr[:])
	if format != fmtDelta {
		length := uint24(r.hdr[3:])
		if length > r.maxMessageSize {
			return fmt.Errorf("%w: %d bytes on chunk stream %d, limit %d", ErrMessageTooLarge, length, csid, r.maxMessageSize)
		}
		cs.length = length
		cs.typ = protocol.Type(r.hdr[6])
	}
	if format == fmtFull {
		cs.streamID = binary.LittleEndian.Uint32(r.hdr[7:])
	}
	cs.extended = t == extendedTimestamp
	if cs.extended {
		var err error
		if t, err = r.readExtended(cs); err != nil {
			return err
		}
	}
	// A type 0 timestamp is absolute, and a type 3 chunk that follows it
	// starts a message that far after it (RTMP 1.0 §5.3.1.2.4).
	cs.delta = t
	if format == fmtFull {
		cs.timestamp = t
	} else {
		cs.timestamp += t
	}
	return nil
}

// readContinued handles the header of a type 3 chunk, which either starts a
// new message like the previous one or continues the current message.
func (r *Reader) readContinued(cs *inStream) error {
	if cs.received == 0 {
		if cs.extended {
			if _, err := r.readExtended(cs); err != nil {
				return err
			}
		}
		cs.timestamp += cs.delta
		return nil
	}
	if !cs.extended {
		return nil
	}
	// Errata §5.1 puts the extended timestamp on continuation chunks too,
	// but some senders leave it out. Like SRS, take the next four bytes as
	// the field only when they hold the value it would have (the last
	// extended value, or the message timestamp, which some senders write).
	// Only as many bytes as the chunk's payload are peeked at first, since
	// those arrive whatever the sender did; a sender that omits the field
	// and then waits for an answer would otherwise stall the read.
	n := int(min(cs.length-cs.received, r.chunkSize, 4))
	if !r.peekIs(n, cs.extValue) && !r.peekIs(n, cs.timestamp) {
		return nil
	}
	if n < 4 && !r.peekIs(4, cs.extValue) && !r.peekIs(4, cs.timestamp) {
		return nil
	}
	r.br.Discard(4)
	r.bytesRead += 4
	return nil
}

// peekIs reports whether the next n bytes (n ≤ 4) are the first n bytes of
// v in network byte order.
func (r *Reader) peekIs(n int, v uint32) bool {
	p, err := r.br.Peek(n)
	if err != nil {
		return false
	}
	var want [4]byte
	binary.BigEndian.PutUint32(want[:], v)
	return string(p) == string(want[:n])
}

// reserve makes sure cs.buf holds at least need bytes, within the budget.
func (r *Reader) reserve(cs *inStream, need uint32) error {
	have := uint32(len(cs.buf))
	if have >= need {
		return nil
	}
	size := min(max(need, 2*have, min(cs.length, reassemblyInitial)), cs.length)
	if r.held-uint64(have)+uint64(size) > r.budget {
		// This may release cs.buf itself when cs is between messages.
		r.releaseIdle()
		have = uint32(len(cs.buf))
		if r.held-uint64(have)+uint64(size) > r.budget {
			return fmt.Errorf("%w: %d bytes held, %d needed, limit %d", ErrReassemblyLimit, r.held, size-have, r.budget)
		}
	}
	buf := make([]byte, size)
	copy(buf, cs.buf[:cs.received])
	r.held = r.held - uint64(have) + uint64(size)
	cs.buf = buf
	return nil
}

// releaseIdle drops the reassembly buffers of chunk streams that are
// between messages, to make room for one that is not.
func (r *Reader) releaseIdle() {
	for cs := range r.streams.all() {
		if cs.received == 0 && cs.buf != nil {
			r.held -= uint64(len(cs.buf))
			cs.buf = nil
		}
	}
}
