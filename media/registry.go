package media

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Errors returned by the registry.
var (
	// ErrBadName: the name is being published by a live publisher.
	ErrBadName = errors.New("media: stream name already published")
	// ErrNotFound: no publisher for a stream that must exist.
	ErrNotFound = errors.New("media: stream not found")
	// ErrTakenOver is the reason given to a publisher evicted by a newer one.
	ErrTakenOver = errors.New("media: publisher replaced by a new publisher of the same name")
	// ErrTooManyStreams: the registry holds MaxStreams streams already.
	ErrTooManyStreams = errors.New("media: too many streams")
)

// Config tunes the registry's streams.
type Config struct {
	// GOPCache keeps the frames since the last keyframe for late joiners.
	GOPCache bool
	// MaxGOPBytes bounds the GOP cache per stream.
	MaxGOPBytes int
	// PublisherTimeout is how long a publisher may be silent before a new
	// publisher of the same name takes over.
	PublisherTimeout time.Duration
	// AlwaysTakeover lets a new publisher replace a live one at once.
	AlwaysTakeover bool
	// Events, when set, is told when streams start and stop being published.
	Events Events
	// MaxStreams bounds the streams (published or awaited by players) of
	// the registry; 0 means no bound.
	MaxStreams int
	// AudioBatch is how long audio may wait in subscriber queues to go out
	// with the next video frame of the same stream, so that a sink takes
	// audio and video in one wake (for a player: one write) instead of
	// one each (a 30 fps stream with AAC audio makes 73 messages a
	// second, 43 of them a few hundred bytes of audio). Video is never
	// held, and neither is audio of a stream without video. 0 wakes
	// sinks for every frame.
	AudioBatch time.Duration
	// Fanout makes the Fanout that wakes a stream's sinks, one per stream
	// when it is first published; nil wakes each sink in turn on the
	// publisher's goroutine.
	Fanout func() Fanout
}

// Events receives stream lifecycle notifications for monitoring. Its
// methods are called with the registry locked: they must not block and must
// not call back into the registry or the stream.
type Events interface {
	StreamPublished(name string)
	StreamUnpublished(name string)
}

// Registry holds the live streams of one application instance.
type Registry struct {
	cfg     Config
	mu      sync.Mutex
	streams map[string]*Stream
}

// NewRegistry makes an empty registry.
func NewRegistry(cfg Config) *Registry {
	if cfg.MaxGOPBytes <= 0 {
		cfg.MaxGOPBytes = 32 << 20
	}
	if cfg.PublisherTimeout <= 0 {
		cfg.PublisherTimeout = 10 * time.Second
	}
	return &Registry{cfg: cfg, streams: make(map[string]*Stream)}
}

func (r *Registry) streamLocked(name string) (*Stream, error) {
	s := r.streams[name]
	if s == nil {
		if r.cfg.MaxStreams > 0 && len(r.streams) >= r.cfg.MaxStreams {
			return nil, fmt.Errorf("%w (limit %d)", ErrTooManyStreams, r.cfg.MaxStreams)
		}
		s = &Stream{name: name, reg: r}
		r.streams[name] = s
	}
	return s, nil
}

// Publish makes p the publisher of name. If another publisher holds the name
// it is evicted when AlwaysTakeover is set or it has been silent longer than
// PublisherTimeout; otherwise Publish fails with ErrBadName.
func (r *Registry) Publish(name string, p Publisher) (*Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.streamLocked(name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.pub; old != nil {
		if old == p {
			return nil, fmt.Errorf("%w: %q", ErrBadName, name)
		}
		silence := old.Silence()
		if !r.cfg.AlwaysTakeover && silence < r.cfg.PublisherTimeout {
			return nil, fmt.Errorf("%w: %q (publisher active %v ago)", ErrBadName, name, silence.Round(time.Millisecond))
		}
		old.Evict(ErrTakenOver)
		s.resetCaches()
		for _, sub := range s.subs {
			sub.pushEvent(EventUnpublish)
		}
	}
	s.pub = p
	s.pubSince = time.Now()
	for _, sub := range s.subs {
		sub.pushEvent(EventPublish)
	}
	if r.cfg.Events != nil {
		r.cfg.Events.StreamPublished(name)
	}
	return s, nil
}

// Subscribe attaches sub to name. With mustExist, a name without a
// publisher fails with ErrNotFound; otherwise sub waits for one. A joiner of
// a live stream gets the metadata, sequence headers and GOP cache first.
func (r *Registry) Subscribe(name string, sub *Subscriber, mustExist bool) (*Stream, error) {
	s, replayed, err := r.subscribe(name, sub, mustExist)
	if replayed {
		// Outside the locks: the consumer may start writing at once.
		sub.sink.Wake()
	}
	return s, err
}

func (r *Registry) subscribe(name string, sub *Subscriber, mustExist bool) (s *Stream, replayed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.streams[name]; mustExist && (s == nil || !s.Published()) {
		return nil, false, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	s, err = r.streamLocked(name)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSub(sub)
	sub.mu.Lock()
	sub.stream = s
	// Without a cached GOP a joiner must not start mid-GOP.
	sub.needKey = s.hasVideo && !s.gopValid
	sub.mu.Unlock()
	if s.pub != nil {
		sub.replay(s.startFrames())
		replayed = true
	}
	return s, replayed, nil
}

// Get returns the stream called name, or nil.
func (r *Registry) Get(name string) *Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.streams[name]
}

// Streams returns the streams sorted by name.
func (r *Registry) Streams() []*Stream {
	r.mu.Lock()
	out := make([]*Stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
