package hls

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// Why a muxer ends. The request handlers that wait for a muxer answer
// with the status of its cause (Handler.fail).
var (
	errUnpublished = errors.New("hls: the publisher left")
	errIdle        = errors.New("hls: no request for a while")
	errLagging     = errors.New("hls: the muxer fell behind the stream")
	errStalled     = errors.New("hls: the stream sent nothing for a while")
	errStopped     = errors.New("hls: the server is shutting down")
	errNoStart     = errors.New("hls: no H.264/H.265 keyframe or AAC audio to start from")
	// errUnsupported wraps a stream the variant cannot carry.
	errUnsupported = errors.New("hls: unsupported codecs")
)

// Muxer timing.
const (
	// tick is how often a muxer prunes its viewers and checks whether it
	// is idle or its stream stalled.
	tick = time.Second
	// startWithin bounds the wait for something to start from (a
	// keyframe after the codec configuration, or audio alone).
	startWithin = 10 * time.Second
	// stallAfter ends a started muxer whose stream sends nothing:
	// players waiting on a blocking reload get an answer, and retry.
	stallAfter = 10 * time.Second
	// audioOnlyAfter is how much audio without video a stream sends
	// before it is muxed as audio alone: at the start of a publication
	// audio may precede the video's configuration.
	audioOnlyAfter = time.Second
	// maxViewers bounds a muxer's viewer sessions (and so the memory
	// that counts them).
	maxViewers = 100_000
	// batch is how many queue entries one pop takes.
	batch = 64
)

// Config is a muxer's settings (docs/playback.md, [play] hls_*).
type Config struct {
	Segment, Part   time.Duration
	Segments        int
	SegmentMaxBytes int
	Idle            time.Duration
	// Subscriber bounds the muxer's queue on its stream, as a player's.
	Subscriber media.SubscriberConfig
}

// muxer is one stream's HLS in one variant, shared by all its players: a
// subscriber of the live stream whose goroutine converts the FLV frames
// into access units and feeds them to gohlslib's muxer, which keeps the
// segments and parts in memory and answers the players' requests. It
// runs from the first request until nobody has asked for Config.Idle, or
// its stream ends.
type muxer struct {
	key    string
	stream *media.Stream
	sub    *media.Subscriber
	cfg    Config
	v      Variant
	log    *zap.Logger

	wake chan struct{} // Sink.Wake
	lag  chan struct{} // Sink.Lagging
	stop chan struct{} // closed by Handler.Close

	// started is closed once hls is set; done once the muxer ended, err
	// then saying why.
	started chan struct{}
	done    chan struct{}
	hls     *gohlslib.Muxer
	err     error

	// What requests tell the goroutine: when the last came, how many are
	// being answered (a blocking reload may wait a while).
	lastRequest atomic.Int64 // unix nanoseconds
	inflight    atomic.Int32

	viewersMu sync.Mutex
	viewers   map[string]time.Time // session ID → last request
	nViewers  atomic.Int32         // recently seen, for Viewers

	// The goroutine's own.
	vcfg         *videoConfig
	acfg         *mpeg4audio.AudioSpecificConfig
	vtrack       *gohlslib.Track
	atrack       *gohlslib.Track
	sawVideo     bool          // an H.264/H.265 frame came
	audioSince   int64         // ms of the first audio frame, -1 before
	clk          clock         // the stream's timestamps, unwrapped
	base         int64         // ms of the first frame muxed
	startWall    time.Time     // the wall time of timestamp base (wallClock)
	lastFrame    time.Time     // when the last frame came
	created      time.Time     // when the muxer was made
	viewerWindow time.Duration // a viewer counts this long after a request
}

// sink is the muxer as its subscriber's media.Sink; an Audience, so the
// stream's monitoring counts its viewers as HLS players.
type sink struct{ m *muxer }

func (s sink) Wake() {
	select {
	case s.m.wake <- struct{}{}:
	default:
	}
}

func (s sink) Lagging() {
	select {
	case s.m.lag <- struct{}{}:
	default:
	}
}

func (s sink) Viewers() int { return int(s.m.nViewers.Load()) }

var _ media.Audience = sink{}

func newMuxer(key string, st *media.Stream, v Variant, cfg Config, stop chan struct{}, log *zap.Logger) *muxer {
	now := time.Now()
	m := &muxer{
		key: key, stream: st, cfg: cfg, v: v, log: log,
		wake: make(chan struct{}, 1), lag: make(chan struct{}, 1), stop: stop,
		started: make(chan struct{}), done: make(chan struct{}),
		viewers: make(map[string]time.Time), audioSince: -1,
		lastFrame: now, created: now,
		viewerWindow: max(10*time.Second, 3*cfg.Segment),
	}
	m.lastRequest.Store(now.UnixNano())
	sc := cfg.Subscriber
	sc.Label = "hls"
	m.sub = media.NewSubscriber(sc, sink{m})
	return m
}

// touch records a request of session id. It is false when the muxer
// already counts maxViewers other sessions.
func (m *muxer) touch(id string, now time.Time) bool {
	m.lastRequest.Store(now.UnixNano())
	m.viewersMu.Lock()
	defer m.viewersMu.Unlock()
	if _, ok := m.viewers[id]; !ok {
		if len(m.viewers) >= maxViewers {
			return false
		}
		m.nViewers.Add(1)
	}
	m.viewers[id] = now
	return true
}

// prune forgets the viewers not seen within the window.
func (m *muxer) prune(now time.Time) {
	m.viewersMu.Lock()
	defer m.viewersMu.Unlock()
	for id, t := range m.viewers {
		if now.Sub(t) > m.viewerWindow {
			delete(m.viewers, id)
		}
	}
	m.nViewers.Store(int32(len(m.viewers)))
}

// run is the muxer's goroutine: it takes the frames its sink is woken
// for until the muxer ends, then leaves the stream and closes the
// gohlslib muxer, which answers the requests still waiting in it.
func (m *muxer) run(forget func(*muxer)) {
	err := m.loop()
	m.stream.Unsubscribe(m.sub)
	if m.hls != nil {
		m.hls.Close()
	}
	forget(m)
	m.err = err
	close(m.done)
	lvl := zap.InfoLevel
	if errors.Is(err, errUnsupported) || errors.Is(err, errNoStart) {
		lvl = zap.WarnLevel
	}
	m.log.Log(lvl, "hls muxer stopped", zap.String("reason", err.Error()),
		zap.Duration("duration", time.Since(m.created)), zap.Uint64("dropped", m.sub.Dropped()))
}

func (m *muxer) loop() error {
	t := time.NewTicker(tick)
	defer t.Stop()
	var scratch [batch]media.Entry
	for {
		select {
		case <-m.wake:
			for {
				entries := m.sub.PopBatch(scratch[:0], batch)
				for _, e := range entries {
					if err := m.entry(e); err != nil {
						clear(entries)
						return err
					}
				}
				clear(entries)
				if len(entries) < batch {
					break
				}
			}
		case <-m.lag:
			return errLagging
		case <-m.stop:
			return errStopped
		case now := <-t.C:
			m.prune(now)
			if m.inflight.Load() == 0 && now.Sub(time.Unix(0, m.lastRequest.Load())) > m.cfg.Idle {
				return errIdle
			}
			if m.hls == nil && now.Sub(m.created) > startWithin {
				return errNoStart
			}
			if m.hls != nil && now.Sub(m.lastFrame) > stallAfter {
				return errStalled
			}
		}
	}
}

// entry muxes one queue entry.
func (m *muxer) entry(e media.Entry) error {
	if e.Frame == nil {
		if e.Event == media.EventUnpublish {
			return errUnpublished
		}
		return nil
	}
	f := e.Frame
	m.lastFrame = time.Now()
	switch f.Type {
	case protocol.TypeVideo:
		return m.video(f)
	case protocol.TypeAudio:
		return m.audio(f)
	}
	return nil // metadata: HLS has no place for it
}

func (m *muxer) video(f *media.Frame) error {
	v, ok := parseVideo(f.Payload)
	if !ok {
		return nil
	}
	ts := m.clk.ms(f.Timestamp)
	if v.seqHeader {
		var c videoConfig
		var err error
		if v.codec == codecH264 {
			c, err = parseAVCConfig(v.data)
		} else {
			c, err = parseHEVCConfig(v.data)
		}
		if err != nil {
			m.log.Warn("hls: video configuration skipped", zap.Error(err))
			return nil
		}
		if m.hls != nil && c.codec != m.vcfg.codec {
			return fmt.Errorf("%w: the video codec changed", errUnsupported)
		}
		m.vcfg = &c
		return nil
	}
	m.sawVideo = true
	if m.vcfg == nil || v.codec != m.vcfg.codec {
		return nil
	}
	if m.hls == nil {
		if !f.Keyframe {
			return nil
		}
		if err := m.start(ts); err != nil {
			return err
		}
	}
	if m.vtrack == nil {
		return nil
	}
	au := make([][]byte, 0, 8)
	if f.Keyframe {
		// In-band parameter sets on every keyframe: MPEG-TS decoders
		// need them, gohlslib takes a change of them from there, and
		// its DTS extractor reads the SPS.
		if m.vcfg.vps != nil {
			au = append(au, m.vcfg.vps)
		}
		au = append(au, m.vcfg.sps, m.vcfg.pps)
	}
	au, err := splitNALUs(au, v.data, m.vcfg.lengthSize)
	if err != nil || len(au) == 0 {
		m.log.Debug("hls: video frame skipped", zap.Error(err))
		return nil
	}
	rel := ts - m.base
	if rel < 0 {
		return nil
	}
	pts := (rel + int64(v.cts)) * 90 // 90 kHz
	ntp := m.wallClock(rel)
	if m.vcfg.codec == codecH264 {
		err = m.hls.WriteH264(m.vtrack, ntp, pts, au)
	} else {
		err = m.hls.WriteH265(m.vtrack, ntp, pts, au)
	}
	if err != nil {
		return fmt.Errorf("hls: mux video: %w", err)
	}
	return nil
}

func (m *muxer) audio(f *media.Frame) error {
	a, ok := parseAudio(f.Payload)
	if !ok {
		return nil
	}
	ts := m.clk.ms(f.Timestamp)
	if a.seqHeader {
		c, err := parseAAC(a.data)
		if err != nil {
			m.log.Warn("hls: audio configuration skipped", zap.Error(err))
			return nil
		}
		if m.atrack != nil && (c.SampleRate != m.acfg.SampleRate || c.ChannelCount != m.acfg.ChannelCount || c.Type != m.acfg.Type) {
			return fmt.Errorf("%w: the audio configuration changed", errUnsupported)
		}
		m.acfg = &c
		return nil
	}
	if m.acfg == nil || len(a.data) == 0 {
		return nil
	}
	if m.hls == nil {
		// Audio alone, once it is clear there is no video to wait for.
		if m.audioSince < 0 {
			m.audioSince = ts
		}
		if m.sawVideo || m.vcfg != nil || ts-m.audioSince < audioOnlyAfter.Milliseconds() {
			return nil
		}
		if err := m.start(ts); err != nil {
			return err
		}
	}
	if m.atrack == nil {
		return nil
	}
	rel := ts - m.base
	if rel < 0 {
		return nil // sent before the keyframe the muxer started at
	}
	pts := rel * int64(m.acfg.SampleRate) / 1000
	ntp := m.wallClock(rel)
	if err := m.hls.WriteMPEG4Audio(m.atrack, ntp, pts, [][]byte{a.data}); err != nil {
		return fmt.Errorf("hls: mux audio: %w", err)
	}
	return nil
}

// start makes the gohlslib muxer with the tracks configured so far; ts is
// the frame it starts at.
func (m *muxer) start(ts int64) error {
	var tracks []*gohlslib.Track
	if m.vcfg != nil {
		var c codecs.Codec = &codecs.H264{SPS: m.vcfg.sps, PPS: m.vcfg.pps}
		if m.vcfg.codec == codecH265 {
			if m.v == TS {
				return fmt.Errorf("%w: the MPEG-TS variant carries H.264 only; play the fMP4 one (index.m3u8)", errUnsupported)
			}
			c = &codecs.H265{VPS: m.vcfg.vps, SPS: m.vcfg.sps, PPS: m.vcfg.pps}
		}
		m.vtrack = &gohlslib.Track{Codec: c, ClockRate: 90000}
		tracks = append(tracks, m.vtrack)
	}
	if m.acfg != nil {
		m.atrack = &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: *m.acfg}, ClockRate: m.acfg.SampleRate}
		tracks = append(tracks, m.atrack)
	}
	variant := gohlslib.MuxerVariantLowLatency
	if m.v == TS {
		variant = gohlslib.MuxerVariantMPEGTS
	}
	mx := &gohlslib.Muxer{
		Tracks:             tracks,
		Variant:            variant,
		SegmentCount:       m.cfg.Segments,
		SegmentMinDuration: m.cfg.Segment,
		PartMinDuration:    m.cfg.Part,
		SegmentMaxSize:     uint64(m.cfg.SegmentMaxBytes),
		OnEncodeError: func(err error) {
			m.log.Debug("hls: muxer", zap.Error(err))
		},
	}
	if err := mx.Start(); err != nil {
		return fmt.Errorf("%w: %w", errUnsupported, err)
	}
	m.hls = mx
	m.base = ts
	m.startWall = time.Now()
	close(m.started)
	m.log.Info("hls muxer started", zap.Bool("video", m.vtrack != nil), zap.Bool("audio", m.atrack != nil),
		zap.Duration("after", time.Since(m.created)))
	return nil
}

// wallClock is the wall time of the frame rel ms into the muxed stream,
// for the playlists' EXT-X-PROGRAM-DATE-TIME. The mapping is anchored at
// the frame that came earliest for its timestamp: the frames the muxer
// starts with were sent long ago (the GOP cache), the live ones come as
// they are sent, so a live frame's time is when it reached the server.
func (m *muxer) wallClock(rel int64) time.Time {
	d := time.Duration(rel) * time.Millisecond
	if at := time.Now().Add(-d); at.Before(m.startWall) {
		m.startWall = at
	}
	return m.startWall.Add(d)
}

// clock unwraps a stream's 32-bit millisecond timestamps into a line
// that goes on past the wrap (49 days) and follows small steps back
// (audio stamped a little before the video already muxed).
type clock struct {
	started bool
	last    uint32
	ext     int64
}

func (c *clock) ms(ts uint32) int64 {
	if !c.started {
		c.started, c.last, c.ext = true, ts, int64(ts)
		return c.ext
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	return c.ext
}
