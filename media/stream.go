package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
)

// Publisher is the stream's view of the connection publishing it.
type Publisher interface {
	// Silence is how long the publisher's connection has received nothing;
	// a name whose publisher is silent past the registry's timeout may be
	// taken over.
	Silence() time.Duration
	// Evict ends the publisher because another one took over its name. It
	// must not block.
	Evict(reason error)
}

// Stream is one named live stream in an application instance.
type Stream struct {
	name string
	reg  *Registry

	// fanMu serialises Write, which wakes sinks after releasing mu using
	// the scratch slice ready, and guards the fields up to mu.
	fanMu sync.Mutex
	ready []Sink
	// heldSince is when the frames waiting unsignalled (audio for the next
	// video frame, or frames with more behind them, WriteMore) started to
	// wait, zero when none wait; heldTimer lets them go if no frame comes
	// within holdLimit.
	heldSince time.Time
	heldTimer *time.Timer
	// heldAV is set while a held frame is not plain audio: the next Write
	// then signals whatever it brings.
	heldAV bool
	// fan wakes the sinks (Config.Fanout); made when first needed, closed
	// when the publisher leaves.
	fan Fanout

	mu         sync.Mutex
	pub        Publisher
	pubSince   time.Time
	meta       *Frame
	seqHeaders []*Frame
	gop        []*Frame
	gopBytes   int
	gopValid   bool // gop starts at a keyframe and is complete since then
	hasVideo   bool
	subs       []*Subscriber // a slice: Write walks it for every frame
	videoCodec string
	audioCodec string
	stats      streamStats

	bytesIn  atomic.Uint64
	framesIn atomic.Uint64
	// framesPerWrite mirrors the fan-out's FramesPerWrite for monitoring
	// (0 while unpublished).
	framesPerWrite atomic.Int32
}

// Name is the stream's name within its instance.
func (s *Stream) Name() string { return s.name }

// Write routes one frame from the publisher p to every subscriber and
// updates the late-joiner caches. Frames from anyone but the current
// publisher are ignored (an evicted publisher may still be draining).
//
// Sinks are woken after the stream lock is released, because a wake may
// write to a player's socket there and then. Audio of a
// stream with video is not signalled at once (Config.AudioBatch): it goes
// out with the next video frame.
func (s *Stream) Write(p Publisher, f *Frame) { s.write(p, f, false) }

// WriteMore is Write for a frame the publisher's connection already has
// more frames behind: subscribers are signalled with the next Write
// instead (or after holdLimit at the latest). A server whose fan-out falls
// behind its publisher — thousands of players on a busy machine — thus
// writes each player the frames that piled up in one system call rather
// than one each, and catches up instead of falling further behind; one that
// keeps up never sees a backlog and is not delayed.
func (s *Stream) WriteMore(p Publisher, f *Frame) { s.write(p, f, true) }

func (s *Stream) write(p Publisher, f *Frame, more bool) {
	s.fanMu.Lock()
	defer s.fanMu.Unlock()
	now := time.Now()
	s.mu.Lock()
	if s.pub != p {
		s.mu.Unlock()
		return
	}
	s.bytesIn.Add(uint64(f.Size()))
	s.framesIn.Add(1)
	s.stats.update(f, s.pubSince, now)
	s.cache(f)
	var signal bool
	if more {
		s.hold(now)
		s.heldAV = s.heldAV || f.Type != protocol.TypeAudio || f.SeqHeader
	} else {
		signal = s.signalNow(f, now)
	}
	for _, sub := range s.subs {
		sub.push(f, s.hasVideo, now)
		if signal {
			s.ready = append(s.ready, sub.sink)
		}
	}
	s.mu.Unlock()
	s.wakeReady()
}

// holdLimit is how long frames wait unsignalled when no frame follows.
func (s *Stream) holdLimit() time.Duration {
	if d := s.reg.cfg.AudioBatch; d > 0 {
		return d
	}
	return 50 * time.Millisecond
}

// hold notes that frames wait unsignalled from now, unless some already
// do, and arms the timer that lets them go if nothing follows.
func (s *Stream) hold(now time.Time) {
	if !s.heldSince.IsZero() {
		return
	}
	s.heldSince = now
	if s.heldTimer == nil {
		s.heldTimer = time.AfterFunc(s.holdLimit(), s.releaseHeld)
	} else {
		s.heldTimer.Reset(s.holdLimit())
	}
}

// signalNow decides whether subscribers are signalled for f or f waits for
// the next video frame. The caller holds fanMu and mu.
func (s *Stream) signalNow(f *Frame, now time.Time) bool {
	// wait is how long the oldest held frame may wait for f's kind; 0
	// signals f at once, together with whatever waits.
	wait := s.reg.cfg.AudioBatch
	if !s.hasVideo || f.Type != protocol.TypeAudio || f.SeqHeader || s.heldAV {
		wait = 0
	}
	switch {
	case wait <= 0:
	case s.heldSince.IsZero():
		s.hold(now)
		return false
	case now.Sub(s.heldSince) < wait:
		return false
	}
	// Signalled at once, or the oldest has waited long enough (for audio:
	// video stalled, so the audio goes on its own).
	s.heldSince, s.heldAV = time.Time{}, false
	return true
}

// releaseHeld signals the subscribers for frames that waited holdLimit
// without a frame coming after them (the publisher paused or stopped).
func (s *Stream) releaseHeld() {
	s.fanMu.Lock()
	defer s.fanMu.Unlock()
	if s.heldSince.IsZero() || time.Since(s.heldSince) < s.holdLimit() {
		return // gone out with a later frame, or a newer batch is waiting
	}
	s.heldSince, s.heldAV = time.Time{}, false
	s.mu.Lock()
	for _, sub := range s.subs {
		s.ready = append(s.ready, sub.sink)
	}
	s.mu.Unlock()
	s.wakeReady()
}

// wakeReady hands the sinks in ready to the stream's Fanout. The caller
// holds fanMu.
func (s *Stream) wakeReady() {
	if len(s.ready) == 0 {
		return
	}
	if s.fan == nil {
		s.fan = serialFanout{}
		if s.reg.cfg.Fanout != nil {
			s.fan = s.reg.cfg.Fanout()
		}
	}
	s.fan.Wake(s.ready)
	s.framesPerWrite.Store(int32(s.fan.FramesPerWrite()))
	clear(s.ready)
	s.ready = s.ready[:0]
}

// closeFanout ends the stream's Fanout; a later publisher gets a new one.
func (s *Stream) closeFanout() {
	s.fanMu.Lock()
	defer s.fanMu.Unlock()
	if s.fan != nil {
		s.fan.Close()
		s.fan = nil
	}
}

// cache keeps what a late joiner needs: metadata, sequence headers and the
// frames since the last keyframe.
func (s *Stream) cache(f *Frame) {
	switch {
	case f.Metadata:
		s.meta = f
		return
	case f.SeqHeader:
		if f.Type == protocol.TypeVideo {
			s.hasVideo = true
			s.videoCodec = f.Codec
		} else {
			s.audioCodec = f.Codec
		}
		for i, h := range s.seqHeaders {
			if h.Type == f.Type && h.ConfigKey == f.ConfigKey {
				s.seqHeaders[i] = f
				return
			}
		}
		s.seqHeaders = append(s.seqHeaders, f)
		return
	case f.Type == protocol.TypeVideo:
		s.hasVideo = true
		if s.videoCodec == "" {
			s.videoCodec = f.Codec
		}
	case f.Type == protocol.TypeAudio && s.audioCodec == "":
		s.audioCodec = f.Codec
	}
	if !s.reg.cfg.GOPCache || f.Type == protocol.TypeDataAMF0 {
		return
	}
	if f.Type == protocol.TypeVideo && f.Keyframe {
		s.clearGOP()
		s.gopValid = true
	}
	if !s.gopValid {
		return
	}
	if s.gopBytes+f.Size() > s.reg.cfg.MaxGOPBytes {
		// A GOP larger than the bound is not cached at all: a joiner then
		// waits for the next keyframe rather than starting mid-GOP.
		s.clearGOP()
		s.gopValid = false
		return
	}
	s.gop = append(s.gop, f)
	s.gopBytes += f.Size()
}

func (s *Stream) clearGOP() {
	clear(s.gop)
	s.gop = s.gop[:0]
	s.gopBytes = 0
}

func (s *Stream) resetCaches() {
	s.meta = nil
	clear(s.seqHeaders)
	s.seqHeaders = s.seqHeaders[:0]
	s.clearGOP()
	s.gopValid = false
	s.hasVideo = false
	s.videoCodec, s.audioCodec = "", ""
}

// startFrames is what a joiner gets before live frames, in decoding order.
func (s *Stream) startFrames() []*Frame {
	out := make([]*Frame, 0, 1+len(s.seqHeaders)+len(s.gop))
	if s.meta != nil {
		out = append(out, s.meta)
	}
	out = append(out, s.seqHeaders...)
	return append(out, s.gop...)
}

// Published reports whether the stream has a publisher now.
func (s *Stream) Published() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub != nil
}

// Publisher returns the current publisher, or nil.
func (s *Stream) Publisher() Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// Unpublish ends p's publishing. Subscribers stay and are told; they get the
// next publisher's frames if one comes.
func (s *Stream) Unpublish(p Publisher) {
	if s.unpublish(p) {
		// Outside the registry's lock: a wake in progress holds fanMu
		// and may end a player, which takes the registry's lock.
		s.closeFanout()
	}
}

func (s *Stream) unpublish(p Publisher) bool {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	s.mu.Lock()
	if s.pub != p {
		s.mu.Unlock()
		return false
	}
	s.pub = nil
	s.resetCaches()
	s.framesPerWrite.Store(0)
	for _, sub := range s.subs {
		sub.pushEvent(EventUnpublish)
	}
	empty := len(s.subs) == 0
	s.mu.Unlock()
	if empty {
		delete(s.reg.streams, s.name)
	}
	if ev := s.reg.cfg.Events; ev != nil {
		ev.StreamUnpublished(s.name)
	}
	return true
}

// Unsubscribe detaches sub.
func (s *Stream) Unsubscribe(sub *Subscriber) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	s.mu.Lock()
	s.removeSub(sub)
	empty := len(s.subs) == 0 && s.pub == nil
	s.mu.Unlock()
	sub.mu.Lock()
	sub.stream = nil
	sub.mu.Unlock()
	if empty && s.reg.streams[s.name] == s {
		delete(s.reg.streams, s.name)
	}
}

// addSub and removeSub keep subs and each subscriber's index in it; the
// caller holds mu.
func (s *Stream) addSub(sub *Subscriber) {
	sub.index = len(s.subs)
	s.subs = append(s.subs, sub)
}

func (s *Stream) removeSub(sub *Subscriber) {
	i := sub.index
	if i < 0 || i >= len(s.subs) || s.subs[i] != sub {
		return
	}
	last := len(s.subs) - 1
	s.subs[i] = s.subs[last]
	s.subs[i].index = i
	s.subs[last] = nil
	s.subs = s.subs[:last]
	sub.index = -1
}

// StreamInfo is a snapshot of a stream for monitoring.
type StreamInfo struct {
	Name        string
	Published   bool
	Since       time.Time
	Subscribers int
	VideoCodec  string
	AudioCodec  string
	BytesIn     uint64
	FramesIn    uint64
	// SubscribersByProtocol counts subscribers by their
	// SubscriberConfig.Label ("" for unlabelled ones); a sink that is an
	// Audience counts as its viewers, in Subscribers too.
	SubscribersByProtocol map[string]int
	// Stats measures what the current publisher sends; zero when unpublished.
	Stats StreamStats
	// FramesPerWrite is how many frames a sink gets per wake: 1, or more
	// while the stream's Fanout holds wakes back (merged writes).
	FramesPerWrite int
}

// Info returns a snapshot of the stream.
func (s *Stream) Info() StreamInfo {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	info := StreamInfo{
		Name: s.name, Published: s.pub != nil, Since: s.pubSince, Subscribers: len(s.subs),
		VideoCodec: s.videoCodec, AudioCodec: s.audioCodec,
		BytesIn: s.bytesIn.Load(), FramesIn: s.framesIn.Load(),
		SubscribersByProtocol: make(map[string]int, 2),
		FramesPerWrite:        max(1, int(s.framesPerWrite.Load())),
	}
	for _, sub := range s.subs {
		n := 1
		if a, ok := sub.sink.(Audience); ok {
			n = a.Viewers()
			info.Subscribers += n - 1
		}
		info.SubscribersByProtocol[sub.cfg.Label] += n
	}
	if s.pub != nil {
		info.Stats = s.stats.snapshot(now)
	}
	return info
}
