package media

import (
	"github.com/nimbus-media/nimbus/protocol"
	"sync"
	"time"
)

// Event is a non-media entry in a subscriber's queue: it tells the consumer
// that the stream's publisher came or went, in order with the frames.
type Event uint8

// Queue events.
const (
	EventNone      Event = iota
	EventPublish         // a publisher started on the stream (PublishNotify)
	EventUnpublish       // the publisher left (UnpublishNotify)
)

// Entry is one queued item: a frame, or an event when Frame is nil.
type Entry struct {
	Frame *Frame
	Event Event
}

// SubscriberConfig bounds one subscriber's queue.
type SubscriberConfig struct {
	// MaxBytes is the payload bytes the queue may hold before the
	// subscriber starts dropping to the next keyframe.
	MaxBytes int
	// MaxFrames bounds the number of queued entries (rounded up to a power of two).
	MaxFrames int
	// MaxLag is how long a subscriber may keep dropping before it is
	// told to go (Sink.Lagging).
	MaxLag time.Duration
	// Label names the subscriber's transport ("rtmp", "rtmfp") for
	// monitoring: StreamInfo counts subscribers by it.
	Label string
}

func (c SubscriberConfig) withDefaults() SubscriberConfig {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 4 << 20
	}
	if c.MaxFrames <= 0 {
		c.MaxFrames = 1024
	}
	n := 16
	for n < c.MaxFrames {
		n <<= 1
	}
	c.MaxFrames = n
	if c.MaxLag <= 0 {
		c.MaxLag = 10 * time.Second
	}
	return c
}

// Subscriber is one player's bounded queue on a stream. The stream pushes,
// the player's connection pops; neither blocks the other.
type Subscriber struct {
	cfg SubscriberConfig
	// sink is woken when there is something to pop and told when the
	// subscriber has been dropping for longer than MaxLag.
	sink Sink

	mu            sync.Mutex
	ring          []Entry
	head, n       int
	bytes         int
	needKey       bool
	droppingSince time.Time
	dropped       uint64
	overflowed    bool
	stream        *Stream
	// index is the subscriber's place in its stream's list, guarded by
	// the stream's lock.
	index int
}

// NewSubscriber makes a subscriber that feeds sink.
func NewSubscriber(cfg SubscriberConfig, sink Sink) *Subscriber {
	cfg = cfg.withDefaults()
	return &Subscriber{cfg: cfg, sink: sink, index: -1, ring: make([]Entry, min(initialRing, cfg.MaxFrames))}
}

// initialRing is a new subscriber's queue capacity: a player that keeps
// up holds a frame or two, so the ring starts small and grows (to
// MaxFrames) only for one that falls behind.
const initialRing = 16

// full reports whether the ring cannot take another entry, growing it
// first if it may.
func (s *Subscriber) full() bool {
	if s.n < len(s.ring) {
		return false
	}
	if len(s.ring) >= s.cfg.MaxFrames {
		return true
	}
	grown := make([]Entry, 2*len(s.ring))
	for i := range s.n {
		grown[i] = s.ring[(s.head+i)&(len(s.ring)-1)]
	}
	s.ring, s.head = grown, 0
	return false
}

// Stream returns the stream the subscriber is attached to, or nil.
func (s *Subscriber) Stream() *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream
}

// Dropped is the number of frames dropped for this subscriber.
func (s *Subscriber) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Pop removes the oldest entry.
func (s *Subscriber) Pop() (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return Entry{}, false
	}
	return s.popLocked(), true
}

// PopBatch appends up to min(max, cap(dst)-len(dst)) of the oldest
// entries to dst, removing them, under one acquisition of the lock.
func (s *Subscriber) PopBatch(dst []Entry, max int) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.n > 0 && max > 0 && len(dst) < cap(dst) {
		dst = append(dst, s.popLocked())
		max--
	}
	return dst
}

// popLocked removes the oldest entry of a non-empty queue.
func (s *Subscriber) popLocked() Entry {
	e := s.ring[s.head]
	s.ring[s.head] = Entry{}
	s.head = (s.head + 1) & (len(s.ring) - 1)
	s.n--
	if e.Frame != nil {
		s.bytes -= e.Frame.Size()
	}
	if s.n == 0 && len(s.ring) > initialRing {
		// The ring grew for a start-up burst or a slow patch; a player
		// that caught up needs little, and there are thousands of them.
		s.ring, s.head = make([]Entry, initialRing), 0
	}
	return e
}

// Len is the number of queued entries.
func (s *Subscriber) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Reset empties the queue and makes the subscriber wait for the next
// keyframe, as after a pause or when video is switched back on.
func (s *Subscriber) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.n > 0 {
		s.popLocked()
	}
	s.needKey = true
}

// put appends e; the caller holds s.mu and has checked for room.
func (s *Subscriber) put(e Entry) {
	s.ring[(s.head+s.n)&(len(s.ring)-1)] = e
	s.n++
	if e.Frame != nil {
		s.bytes += e.Frame.Size()
	}
}

// pushEvent queues an event. Events are never dropped: when the ring is full
// the oldest media is discarded to make room and the subscriber restarts at
// a keyframe.
func (s *Subscriber) pushEvent(ev Event) {
	s.mu.Lock()
	if s.full() {
		s.discardLocked()
		s.needKey = true
	}
	s.put(Entry{Event: ev})
	if ev == EventUnpublish {
		// The next publisher's stream must start at a keyframe even if it
		// joins mid-GOP; with audio only, it resumes at once.
		s.needKey = true
	}
	s.mu.Unlock()
	s.sink.Wake()
}

// discardLocked drops the oldest entry of a full queue.
func (s *Subscriber) discardLocked() {
	s.popLocked()
	s.dropped++
}

// push offers a live frame; the stream signals the subscriber afterwards,
// outside its lock (Stream.Write). hasVideo tells whether the stream carries video,
// which decides whether a dropping subscriber resumes at a keyframe or as
// soon as there is room. Sequence headers and metadata are always taken when
// they fit so that a resumed decoder is configured.
func (s *Subscriber) push(f *Frame, hasVideo bool, now time.Time) {
	s.mu.Lock()
	room := s.bytes+f.Size() <= s.cfg.MaxBytes && !s.full()
	switch {
	case !room:
		s.dropLocked(now)
	case f.SeqHeader || f.Metadata:
		s.put(Entry{Frame: f})
	case s.needKey:
		// Resume with headroom, so one more frame does not tip it over again.
		resume := s.bytes+f.Size() <= s.cfg.MaxBytes/2 && s.n < s.cfg.MaxFrames/2
		if hasVideo {
			resume = resume && f.Type == protocol.TypeVideo && f.Keyframe
		}
		if !resume {
			s.dropLocked(now)
			break
		}
		s.needKey = false
		s.droppingSince = time.Time{}
		s.put(Entry{Frame: f})
	default:
		s.put(Entry{Frame: f})
	}
	overflow := !s.overflowed && !s.droppingSince.IsZero() && now.Sub(s.droppingSince) > s.cfg.MaxLag
	if overflow {
		s.overflowed = true
	}
	s.mu.Unlock()
	if overflow {
		s.sink.Lagging()
	}
}

func (s *Subscriber) dropLocked(now time.Time) {
	s.dropped++
	s.needKey = true
	if s.droppingSince.IsZero() {
		s.droppingSince = now
	}
}

// replay queues a late joiner's start-up frames: they must all fit, so the
// queue bound does not apply to them. The caller signals the subscriber
// once it has released the stream and registry locks.
func (s *Subscriber) replay(frames []*Frame) {
	s.mu.Lock()
	for _, f := range frames {
		if s.full() {
			break
		}
		s.put(Entry{Frame: f})
	}
	s.mu.Unlock()
}
