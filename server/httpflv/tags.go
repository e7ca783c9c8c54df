package httpflv

import (
	"encoding/binary"
	"net"

	"github.com/nimbus-media/nimbus/protocol"
)

// flvHeader is the FLV file header (FLV spec E.2) with PreviousTagSize0;
// byte 4 takes the audio (4) and video (1) flags.
var flvHeader = [13]byte{'F', 'L', 'V', 1, 0, 0, 0, 0, 9, 0, 0, 0, 0}

// tagWriter gathers a player's FLV tags for one vectored write. A shared
// frame's payload is already an FLV tag body; what is the player's own is
// the 11-byte tag header (its timestamp is the player's, see clock), the
// 4-byte size that follows the tag and, over a WebSocket, the message
// header. Those go to scratch, and the write is scratch's pieces between
// the frames' payloads, which are never copied: a tag's trailing size and
// the next tag's headers are one piece.
type tagWriter struct {
	ws       bool // each tag (and the file header) is one WebSocket binary message
	scratch  []byte
	ends     []int    // where the piece before payloads[i] ends in scratch
	payloads [][]byte // shared frame payloads, in order
	payBytes int      // the payloads' length in all
	segs     net.Buffers
}

// raw adds bytes that go out as they are (an HTTP response head, a
// WebSocket control frame).
func (w *tagWriter) raw(b []byte) { w.scratch = append(w.scratch, b...) }

// header adds the FLV file header, with the audio and video flags.
func (w *tagWriter) header(audio, video bool) {
	h := flvHeader
	if audio {
		h[4] |= 4
	}
	if video {
		h[4] |= 1
	}
	if w.ws {
		w.scratch = appendWSHeader(w.scratch, opBinary, len(h))
	}
	w.scratch = append(w.scratch, h[:]...)
}

// tag adds one tag of type t at the player's timestamp ts around payload,
// which must stay unmodified until the write (frames are immutable).
func (w *tagWriter) tag(t protocol.Type, ts uint32, payload []byte) {
	n := len(payload)
	if w.ws {
		w.scratch = appendWSHeader(w.scratch, opBinary, 11+n+4)
	}
	w.scratch = append(w.scratch, byte(t), byte(n>>16), byte(n>>8), byte(n),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
	w.ends = append(w.ends, len(w.scratch))
	w.payloads = append(w.payloads, payload)
	w.payBytes += n
	w.scratch = binary.BigEndian.AppendUint32(w.scratch, uint32(11+n))
}

// empty tells whether nothing was added since the last reset.
func (w *tagWriter) empty() bool { return len(w.scratch) == 0 }

// size is how many bytes were added since the last reset.
func (w *tagWriter) size() int { return len(w.scratch) + w.payBytes }

// appendBuffers appends what was added to dst, as the pieces of one
// vectored write (a send batch's, see Conn.Pending). They stay valid
// until reset.
func (w *tagWriter) appendBuffers(dst net.Buffers) net.Buffers {
	start := 0
	for i, end := range w.ends {
		dst = append(dst, w.scratch[start:end])
		if len(w.payloads[i]) > 0 {
			dst = append(dst, w.payloads[i])
		}
		start = end
	}
	if start < len(w.scratch) {
		dst = append(dst, w.scratch[start:])
	}
	return dst
}

// buffers is appendBuffers into the writer's own vector, for a write the
// connection makes itself.
func (w *tagWriter) buffers() net.Buffers {
	w.segs = w.appendBuffers(w.segs[:0])
	return w.segs
}

// reset forgets what was added (and the frames it held on to).
func (w *tagWriter) reset() {
	clear(w.payloads)
	clear(w.segs[:cap(w.segs)])
	w.scratch, w.ends, w.payloads, w.segs = w.scratch[:0], w.ends[:0], w.payloads[:0], w.segs[:0]
	w.payBytes = 0
}

// maxBackStep is the largest step back in a publisher's timestamps that
// is taken for interleaving (audio stamped a little before the video
// already sent) and held at the last timestamp; a larger one is a new
// time base (an encoder that restarted its clock), which the player's
// clock goes on from instead of stalling until the publisher's catches up.
const maxBackStep = 1000

// clock gives a player's tags timestamps that start at 0 and never go
// back, whatever point of the publisher's time line it joined at: an FLV
// player (flv.js, ffmpeg) takes the first tag's time as the start, and
// would otherwise wait or skip.
type clock struct {
	started bool
	lastIn  uint32 // the publisher's latest timestamp
	out     uint32 // the player's latest timestamp
}

// stamp maps a frame's timestamp to the player's. Configuration (codec
// sequence headers, metadata) is stamped at the player's current time: it
// is replayed from when it was published, which may be long before the
// picture it precedes.
func (c *clock) stamp(ts uint32, config bool) uint32 {
	if config {
		return c.out
	}
	if !c.started {
		c.started, c.lastIn = true, ts
		return c.out
	}
	// Differences in uint32 arithmetic go across the 49-day wrap.
	switch d := int32(ts - c.lastIn); {
	case d > 0:
		c.out += uint32(d)
		c.lastIn = ts
	case d < -maxBackStep:
		c.lastIn = ts
	}
	return c.out
}
