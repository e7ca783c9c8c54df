package script

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/vod"
	"github.com/nimbus-media/nimbus/protocol"
)

// Stream.play's start times (seconds, as AMS's Server-Side ActionScript
// takes them): the live stream if it is published, else the recorded one,
// else wait for a publisher; the live stream only, waiting for it; ≥ 0:
// the recorded stream from that time.
const (
	startLiveOrFile = -2
	startLiveOnly   = -1
)

// maxPlaylistItems bounds the items waiting in a server-side playlist; an
// item is a name and two numbers, its file opened only when it plays.
const maxPlaylistItems = 1024

// switchGap separates an item's first timestamp from the last one of the
// item before (about a frame), so that timestamps never go back.
const switchGap = 40

// errPlaylistStopped is why a playlist's publication ends on play(false),
// a new playlist, or the script stopping.
var errPlaylistStopped = errors.New("script: server-side playlist stopped")

// errPlaysItself: a server-side stream cannot play its own live stream,
// which would feed it its own frames forever.
var errPlaysItself = errors.New("a stream cannot play itself")

// errRemoteConnection: Stream.play from another server (its fifth
// argument, a server-side NetConnection) needs an outbound RTMP client in
// scripts, which Nimbus does not have yet; the script hears it at once
// rather than a stream that never comes.
var errRemoteConnection = errors.New("playing from a remote server (remoteConnection) is not supported")

// playItem is one entry of a server-side stream's playlist (Stream.play).
type playItem struct {
	name   string
	start  float64 // seconds: startLiveOrFile, startLiveOnly, or ≥ 0 into the file
	length float64 // seconds: < 0 to the end, 0 one frame, > 0 that long
}

// playlist publishes a server-side stream (AMS Stream.play): its items,
// live streams of the instance or recorded files, one after another, as
// one live stream that its players cannot tell from a client's. Its
// goroutine plays the items in real time, rebasing each one's timestamps
// to follow the one before, so that players see timestamps that never go
// back, each item's metadata and sequence headers at its start, and
// nothing else at a switch. Statuses go to the script's Stream.onStatus
// through the script's event queue.
type playlist struct {
	s      *stream // for statuses only: its fields belong to the script goroutine
	out    *media.Stream
	reg    *media.Registry
	open   func(name string) (vod.Source, error)
	subCfg media.SubscriberConfig
	log    *zap.Logger

	wake  chan struct{} // an item was added
	abort chan struct{} // a reset, or the live item's subscriber lags
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	last  atomic.Int64 // unix nanoseconds of the last frame written

	mu    sync.Mutex
	items []playItem
	gen   uint64 // bumped by a reset: the item playing ends at once

	// The goroutine's own state (read by stopAndWait once it has ended).
	lastOut  uint32    // the latest audio or video timestamp written
	lastWall time.Time // when it was written; zero before the first
	// played: the item playedName, of generation playedGen, started and
	// its end has not been reported (Play.Complete, Play.Stop): the next
	// item of the generation is a switch.
	played     bool
	playedName string
	playedGen  uint64
}

// newPlaylist publishes the server-side stream s and starts its
// goroutine, with nothing to play yet.
func newPlaylist(s *stream) (*playlist, error) {
	h := s.h
	p := &playlist{
		s: s, reg: h.inst.Streams(), open: h.openVOD, subCfg: h.cfg.Subscriber,
		log:  h.log.With(zap.String("stream", s.name)),
		wake: make(chan struct{}, 1), abort: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	p.last.Store(time.Now().UnixNano())
	out, err := p.reg.Publish(s.name, p)
	if err != nil {
		return nil, err
	}
	p.out = out
	go p.run()
	return p, nil
}

// Silence implements media.Publisher: a playlist waiting for a live
// publisher, or run dry, is silent, and a client may take its name over
// once the registry's timeout allows.
func (p *playlist) Silence() time.Duration { return time.Since(time.Unix(0, p.last.Load())) }

// Evict implements media.Publisher; it does not wait for the goroutine.
func (p *playlist) Evict(reason error) {
	p.once.Do(func() {
		if !errors.Is(reason, errPlaylistStopped) {
			p.log.Info("server-side playlist evicted", zap.Error(reason))
		}
		close(p.stop)
	})
}

// stopAndWait ends the playlist and its publication; it returns the item
// that was playing (or waiting for its publisher), "" when none was.
func (p *playlist) stopAndWait() string {
	p.Evict(errPlaylistStopped)
	<-p.done
	p.mu.Lock()
	gen := p.gen
	p.mu.Unlock()
	if p.played && p.playedGen == gen {
		return p.playedName
	}
	return "" // ended, or ended by a reset whose item had not started
}

// ended tells whether the goroutine has stopped (evicted by a publisher
// that took the name over).
func (p *playlist) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// add queues it; reset first empties the playlist and ends the item
// playing. False when the playlist is full.
func (p *playlist) add(it playItem, reset bool) bool {
	p.mu.Lock()
	if reset {
		clear(p.items)
		p.items = p.items[:0]
		p.gen++
	} else if len(p.items) >= maxPlaylistItems {
		p.mu.Unlock()
		return false
	}
	p.items = append(p.items, it)
	p.mu.Unlock()
	notify(p.wake)
	if reset {
		notify(p.abort)
	}
	return true
}

// notify signals a one-slot channel without waiting.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// status reports to the script's Stream.onStatus, details naming the
// item; it never waits for the script (a full event queue drops it).
func (p *playlist) status(level, code, desc, details string) {
	s := p.s
	s.h.post(event{run: func() { s.statusFor(level, code, desc, details) }})
}

func (p *playlist) run() {
	defer close(p.done)
	defer p.out.Unpublish(p)
	for {
		it, gen, ok := p.take()
		if !ok {
			return
		}
		p.playItem(it, gen)
	}
}

// take waits for the next item; false when the playlist stops.
func (p *playlist) take() (playItem, uint64, bool) {
	for {
		p.mu.Lock()
		if len(p.items) > 0 {
			it := p.items[0]
			p.items[0] = playItem{}
			p.items = p.items[1:]
			gen := p.gen
			p.mu.Unlock()
			return it, gen, true
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.stop:
			return playItem{}, 0, false
		}
	}
}

// aborted tells whether the item of generation gen must end: the
// playlist stopped or was reset.
func (p *playlist) aborted(gen uint64) bool {
	select {
	case <-p.stop:
		return true
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen != gen
}

// more tells whether items are waiting.
func (p *playlist) more() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items) > 0
}

// playItem plays one item: the live stream or the file its start asks
// for, or skips it with a status when there is neither to play.
func (p *playlist) playItem(it playItem, gen uint64) {
	if p.aborted(gen) {
		return
	}
	if p.played && p.playedGen != gen {
		p.played = false // a reset ended it, and Play.Reset said so
	}
	live := func() bool { s := p.reg.Get(it.name); return s != nil && s.Published() }
	var err error
	switch {
	case it.name == p.out.Name():
		err = errPlaysItself
	case it.start == startLiveOnly || (it.start == startLiveOrFile && live()):
		err = p.playLive(it, gen)
	default:
		var src vod.Source
		src, err = p.open(it.name)
		switch {
		case err == nil:
			err = p.playFile(it, src, gen)
			_ = src.Close()
		case it.start == startLiveOrFile && errors.Is(err, fs.ErrNotExist):
			// Neither live nor recorded: wait for a publisher, as AMS does.
			err = p.playLive(it, gen)
		}
	}
	if err != nil {
		p.skipped(it, err)
	}
	if p.played && p.playedGen == gen && !p.more() && !p.aborted(gen) {
		// The playlist ran dry: it stays published, silent, and an item
		// added later continues it.
		p.status(protocol.LevelStatus, protocol.PlayComplete, "Finished playing "+p.playedName+".", p.playedName)
		p.status(protocol.LevelStatus, protocol.PlayStop, "Stopped playing "+p.playedName+".", p.playedName)
		p.played = false
	}
}

// skipped reports an item that could not play; the playlist goes on.
func (p *playlist) skipped(it playItem, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		p.log.Info("server-side playlist: stream not found, skipped", zap.String("item", it.name), zap.Error(err))
		p.status(protocol.LevelError, protocol.PlayStreamNotFound, "Failed to play "+it.name+"; stream not found.", it.name)
		return
	}
	p.log.Warn("server-side playlist: item unplayable, skipped", zap.String("item", it.name), zap.Error(err))
	p.status(protocol.LevelError, protocol.PlayFailed, "Failed to play "+it.name+": "+err.Error()+".", it.name)
}

// begin reports an item's start (Play.Switch first when it follows
// another) and returns the timestamp its first frame gets: after the
// item before, and no earlier than the time that has passed since, so
// that timestamps follow the clock across a wait or a skipped item.
func (p *playlist) begin(it playItem, gen uint64, now time.Time) uint32 {
	if p.played {
		p.status(protocol.LevelStatus, protocol.PlaySwitch, "Switching to "+it.name+".", it.name)
	}
	p.status(protocol.LevelStatus, protocol.PlayStart, "Started playing "+it.name+".", it.name)
	p.played, p.playedName, p.playedGen = true, it.name, gen
	if p.lastWall.IsZero() {
		return 0
	}
	return p.lastOut + uint32(max(now.Sub(p.lastWall).Milliseconds(), switchGap))
}

// write publishes f, keeping the latest timestamp written.
func (p *playlist) write(f *media.Frame) {
	now := time.Now()
	p.last.Store(now.UnixNano())
	if f.Type != protocol.TypeDataAMF0 && (p.lastWall.IsZero() || int32(f.Timestamp-p.lastOut) > 0) {
		p.lastOut = f.Timestamp
	}
	if f.Type != protocol.TypeDataAMF0 {
		p.lastWall = now
	}
	p.out.Write(p, f)
}

// sleepUntil waits until t; false when the item must end first.
func (p *playlist) sleepUntil(t time.Time, gen uint64) bool {
	for {
		d := time.Until(t)
		if d <= 0 {
			return !p.aborted(gen)
		}
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-p.abort:
			timer.Stop()
			if p.aborted(gen) {
				return false
			}
		case <-p.stop:
			timer.Stop()
			return false
		}
	}
}

// playFile plays a recorded stream in real time from it.start (seconds)
// for it.length: its onMetaData and the sequence headers in force at the
// start first, then its tags, each when its time comes.
func (p *playlist) playFile(it playItem, src vod.Source, gen uint64) error {
	info := src.Info()
	startMS := int64(max(it.start, 0) * 1000)
	origin, headers, err := src.Start(startMS)
	if err != nil {
		p.log.Warn("server-side playlist: sequence header unreadable", zap.String("item", it.name), zap.Error(err))
	}
	now := time.Now()
	base := p.begin(it, gen, now)
	at := func(ts uint32) uint32 { return base + uint32(max(int32(ts-origin), 0)) }
	limited, oneFrame := it.length > 0, it.length == 0
	endTS := uint32(max(startMS, int64(info.First)) + int64(it.length*1000))
	if len(info.Meta) > 0 {
		p.write(&media.Frame{Type: protocol.TypeDataAMF0, Timestamp: base, Payload: info.Meta, Metadata: true})
	}
	for _, h := range headers {
		p.write(media.NewFrame(h.Type, base, h.Data))
	}
	for {
		t, err := src.Next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", it.name, err)
		}
		if t.Type == protocol.TypeDataAMF0 && media.IsMetaData(t.Data) {
			continue // sent at the start, from the index
		}
		if limited && t.Type != protocol.TypeDataAMF0 && t.Timestamp-endTS-1 < 1<<31 {
			return nil
		}
		ts := at(t.Timestamp)
		if !p.sleepUntil(now.Add(time.Duration(ts-base)*time.Millisecond), gen) {
			return nil
		}
		f := frameOf(t, ts)
		p.write(f)
		if oneFrame && !f.SeqHeader && (t.Type == protocol.TypeVideo || (t.Type == protocol.TypeAudio && !info.HasVideo)) {
			return nil
		}
	}
}

// frameOf makes a file's tag a frame at timestamp ts.
func frameOf(t flvfile.Tag, ts uint32) *media.Frame {
	if t.Type == protocol.TypeDataAMF0 {
		return &media.Frame{Type: t.Type, Timestamp: ts, Payload: t.Data}
	}
	return media.NewFrame(t.Type, ts, t.Data)
}

// playLive plays the instance's live stream it.name until its publisher
// leaves or it.length seconds have passed, waiting for a publisher if
// there is none yet (AMS: with length -1, for as long as it takes). The
// frames are the live stream's, shared, with timestamps rebased to follow
// the item before; its metadata, sequence headers and GOP come first, as
// to any player joining it.
func (p *playlist) playLive(it playItem, gen uint64) error {
	var lagged atomic.Bool
	sink := media.NewChanSink(func() { lagged.Store(true); notify(p.abort) })
	sub := media.NewSubscriber(p.subCfg, sink)
	src, err := p.reg.Subscribe(it.name, sub, false)
	if err != nil {
		return err
	}
	defer src.Unsubscribe(sub)
	now := time.Now()
	base := p.begin(it, gen, now)
	var deadline <-chan time.Time
	if it.length >= 0 {
		// 0 (one frame) is for files; a live item plays at least a moment.
		timer := time.NewTimer(time.Duration(max(it.length, 0.001) * float64(time.Second)))
		defer timer.Stop()
		deadline = timer.C
	}
	var origin uint32
	started := false
	for {
		select {
		case <-p.stop:
			return nil
		case <-deadline:
			return nil
		case <-p.abort:
			if p.aborted(gen) {
				return nil
			}
			if lagged.Load() {
				p.log.Warn("server-side playlist fell behind its live item; next item", zap.String("item", it.name))
				return nil
			}
			continue
		case <-sink.C:
		}
		for {
			e, ok := sub.Pop()
			if !ok {
				break
			}
			if e.Event == media.EventUnpublish {
				return nil // the live stream is no longer available
			}
			f := e.Frame
			if f == nil {
				continue
			}
			ts := base
			switch {
			case started:
				ts += uint32(max(int32(f.Timestamp-origin), 0))
			case f.Type != protocol.TypeDataAMF0 && !f.SeqHeader:
				origin, started = f.Timestamp, true
			}
			p.write(&media.Frame{Type: f.Type, Timestamp: ts, Payload: f.Payload, Keyframe: f.Keyframe,
				SeqHeader: f.SeqHeader, Metadata: f.Metadata, ConfigKey: f.ConfigKey, Codec: f.Codec})
		}
	}
}
