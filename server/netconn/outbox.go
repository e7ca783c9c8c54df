package netconn

import (
	"errors"
	"sync"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// ErrOutboxFull is the close reason for a client that does not read its
// command replies fast enough.
var ErrOutboxFull = errors.New("netconn: outbound command queue full")

// Outgoing is one message for the transport to send.
type Outgoing struct {
	protocol.Message
	// Media is set for audio, video and data popped from a subscriber
	// queue; RTMFP sends those with a transmit deadline. SeqHeader frames
	// and everything else must be delivered reliably.
	Media     bool
	SeqHeader bool
	Keyframe  bool
	// Frame is the shared frame a media message comes from; transports
	// cache their wire encoding on it (Frame.Encoded).
	Frame *media.Frame
}

// Outbox is a connection's outbound side: a bounded FIFO of commands and
// control messages, plus the connection's playing streams. The reader
// goroutine and publishers' goroutines fill it and call the transport's
// Waker; the transport drains it with NextBatch or Next, from whichever
// goroutine holds its sender role.
type Outbox struct {
	maxBytes int
	waker    Waker

	mu      sync.Mutex
	ctrl    []protocol.Message
	head    int
	bytes   int
	plays   []*play
	rr      int
	closing error
}

// NewOutbox makes an outbox whose command queue holds at most maxBytes.
func NewOutbox(maxBytes int) *Outbox {
	return &Outbox{maxBytes: maxBytes}
}

// Waker is the transport as the outbox sees it: told whenever there is
// something to send. Wake may write to the socket there and then (from a
// publisher's goroutine too) but must not block or take locks of a
// stream or of the outbox.
type Waker interface{ Wake() }

// SetWaker makes w what is told whenever there is something to send.
// Call it before the connection is served; until then nothing is told.
func (o *Outbox) SetWaker(w Waker) { o.waker = w }

// signal tells the transport there is something to send.
func (o *Outbox) signal() {
	if o.waker != nil {
		o.waker.Wake()
	}
}

// SinkWaker returns the transport behind s when s is the media.Sink of a
// connection's play, so that a fan-out can gather the transport's writes
// (egress.Config.Share); false for any other sink.
func SinkWaker(s media.Sink) (Waker, bool) {
	p, ok := s.(*play)
	if !ok || p.out.waker == nil {
		return nil, false
	}
	return p.out.waker, true
}

// Push queues a message; the outbox owns m.Payload from now on.
func (o *Outbox) Push(m protocol.Message) error {
	o.mu.Lock()
	if o.bytes+len(m.Payload) > o.maxBytes {
		o.mu.Unlock()
		return ErrOutboxFull
	}
	o.ctrl = append(o.ctrl, m)
	o.bytes += len(m.Payload)
	o.mu.Unlock()
	o.signal()
	return nil
}

// CloseAfterFlush asks the writer to send what is queued and then close the
// connection with cause (used after a rejection or a kick).
func (o *Outbox) CloseAfterFlush(cause error) {
	o.mu.Lock()
	if o.closing == nil {
		o.closing = cause
	}
	o.mu.Unlock()
	o.signal()
}

// Closing returns the close cause once the command queue is empty after
// CloseAfterFlush; the writer then flushes and closes.
func (o *Outbox) Closing() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.ctrl) > o.head {
		return nil
	}
	return o.closing
}

// Next returns the next message to send: queued commands first, then media
// from the playing streams in turn.
func (o *Outbox) Next() (Outgoing, bool) {
	var one [1]Outgoing
	if b := o.NextBatch(one[:0], 1); len(b) == 1 {
		return b[0], true
	}
	return Outgoing{}, false
}

// NextBatch appends to dst what Next would return in turn, up to max
// messages, under one acquisition of the locks involved: a sender that
// drains many connections per frame pays for the locking once per
// connection instead of once per message. Fewer than max messages means
// that the command queue and every playing stream's queue were empty when
// NextBatch looked, so the sender need not look again until it is
// notified.
func (o *Outbox) NextBatch(dst []Outgoing, max int) []Outgoing {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.head < len(o.ctrl) && len(dst) < max {
		m := o.ctrl[o.head]
		o.ctrl[o.head] = protocol.Message{}
		o.head++
		o.bytes -= len(m.Payload)
		dst = append(dst, Outgoing{Message: m})
	}
	if o.head == len(o.ctrl) {
		o.ctrl, o.head = o.ctrl[:0], 0
	}
	if o.closing != nil {
		return dst
	}
	for range o.plays {
		if len(dst) >= max {
			break
		}
		if o.rr >= len(o.plays) {
			o.rr = 0
		}
		dst = o.plays[o.rr].appendNext(dst, max)
		if len(dst) < max {
			o.rr++ // its queue is empty: the next play's turn
		}
	}
	return dst
}

func (o *Outbox) addPlay(p *play) {
	o.mu.Lock()
	o.plays = append(o.plays, p)
	o.mu.Unlock()
	o.signal()
}

func (o *Outbox) removePlay(p *play) {
	o.mu.Lock()
	for i, q := range o.plays {
		if q == p {
			o.plays = append(o.plays[:i], o.plays[i+1:]...)
			break
		}
	}
	o.mu.Unlock()
}

// withPlay runs fn under the outbox lock, which guards play flags read by Next.
func (o *Outbox) withPlay(fn func()) {
	o.mu.Lock()
	fn()
	o.mu.Unlock()
	o.signal()
}

// play is one NetStream playing a live stream (sub) or recorded streams
// (vod). Its flags are guarded by the outbox lock.
type play struct {
	streamID uint32
	name     string
	sub      *media.Subscriber
	// out is the outbox the play's frames go through, lagging what
	// ends the connection when the play cannot keep up (media.Sink).
	out     *Outbox
	lagging func()
	vod     *vodPlay
	// also names the playlist items added after the first, each allowed
	// by the play check and owed its on_done.
	also         []string
	paused       bool
	noAudio      bool
	noVideo      bool
	waitKeyframe bool // after receiveVideo(true): resume video at a keyframe
}

// Wake implements media.Sink: the transport drains the play's queue
// with the rest of the outbox.
func (p *play) Wake() { p.out.signal() }

// Lagging implements media.Sink.
func (p *play) Lagging() { p.lagging() }

// appendNext pops the subscriber queue and appends what is to be sent,
// up to max messages.
func (p *play) appendNext(dst []Outgoing, max int) []Outgoing {
	if p.vod != nil {
		return p.vod.appendNext(p, dst, max)
	}
	for len(dst) < max {
		var batch [16]media.Entry
		want := min(max-len(dst), len(batch))
		entries := p.sub.PopBatch(batch[:0], want)
		for _, e := range entries {
			if out, ok := p.outgoing(e); ok {
				dst = append(dst, out)
			}
		}
		if len(entries) < want {
			return dst // the queue is empty: no second look under its lock
		}
	}
	return dst
}

// outgoing turns a queue entry into the message to send; ok is false for
// a frame the play skips.
func (p *play) outgoing(e media.Entry) (out Outgoing, ok bool) {
	if e.Frame == nil {
		return p.event(e.Event), true
	}
	f := e.Frame
	if p.paused || p.skip(f.Type, f.SeqHeader, f.Keyframe) {
		return Outgoing{}, false
	}
	return Outgoing{
		Message:   protocol.Message{Type: f.Type, StreamID: p.streamID, Timestamp: f.Timestamp, Payload: f.Payload},
		Media:     true,
		SeqHeader: f.SeqHeader || f.Metadata,
		Keyframe:  f.Keyframe,
		Frame:     f,
	}, true
}

// skip tells whether the client's receiveAudio / receiveVideo choices
// leave out a frame; after receiveVideo(true) video resumes at a keyframe.
func (p *play) skip(t protocol.Type, seqHeader, keyframe bool) bool {
	switch t {
	case protocol.TypeAudio:
		return p.noAudio && !seqHeader
	case protocol.TypeVideo:
		if p.noVideo && !seqHeader {
			return true
		}
		if p.waitKeyframe && !seqHeader {
			if !keyframe {
				return true
			}
			p.waitKeyframe = false
		}
	}
	return false
}

// event turns a publisher change into the status AMS sends a waiting or
// playing client.
func (p *play) event(ev media.Event) Outgoing {
	code, desc := protocol.PlayPublishNotify, p.name+" is now published."
	if ev == media.EventUnpublish {
		code, desc = protocol.PlayUnpublishNotify, p.name+" is now unpublished."
	}
	payload, _ := protocol.AppendCommand(nil, "onStatus", 0, nil,
		protocol.StatusObject(protocol.LevelStatus, code, desc, amf.Property{Key: "details", Value: p.name}))
	return Outgoing{Message: protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: p.streamID, Payload: payload}}
}
