package media

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
)

type testPublisher struct {
	silence time.Duration
	evicted error
}

func (p *testPublisher) Silence() time.Duration { return p.silence }
func (p *testPublisher) Evict(reason error)     { p.evicted = reason }

func video(key bool, size int) *Frame {
	p := make([]byte, size)
	p[0], p[1] = 0x27, 1
	if key {
		p[0] = 0x17
	}
	return NewFrame(protocol.TypeVideo, 0, p)
}

func drainEntries(s *Subscriber) (out []Entry) {
	for {
		e, ok := s.Pop()
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

func TestParseVideo(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []byte
		want VideoInfo
	}{
		{"avc keyframe", []byte{0x17, 1, 0, 0, 0}, VideoInfo{Keyframe: true, Codec: "h264", ConfigKey: 7}},
		{"avc inter", []byte{0x27, 1, 0, 0, 0}, VideoInfo{Codec: "h264", ConfigKey: 7}},
		{"avc sequence header", []byte{0x17, 0, 0, 0, 0}, VideoInfo{SeqHeader: true, Codec: "h264", ConfigKey: 7}},
		{"legacy hevc 12", []byte{0x1c, 0, 0, 0, 0}, VideoInfo{SeqHeader: true, Codec: "hevc", ConfigKey: 12}},
		{"ex hvc1 sequence start", []byte{0x90, 'h', 'v', 'c', '1', 1}, VideoInfo{SeqHeader: true, Codec: "hevc", ConfigKey: 0x68766331}},
		{"ex av01 keyframe", []byte{0x91, 'a', 'v', '0', '1', 1}, VideoInfo{Keyframe: true, Codec: "av1", ConfigKey: 0x61763031}},
		{"ex vp09 inter X", []byte{0xa3, 'v', 'p', '0', '9', 1}, VideoInfo{Codec: "vp9", ConfigKey: 0x76703039}},
		{"ex metadata", []byte{0x94, 'a', 'v', '0', '1'}, VideoInfo{Codec: "av1", ConfigKey: 0x61763031}},
		{"multitrack one-track sequence start", []byte{0x96, 0x00, 'h', 'v', 'c', '1', 2}, VideoInfo{SeqHeader: true, Codec: "hevc", ConfigKey: 2<<32 | 0x68766331}},
		{"truncated ex", []byte{0x91, 'a'}, VideoInfo{}},
		{"empty", nil, VideoInfo{}},
	} {
		if got := ParseVideo(tc.p); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseAudio(t *testing.T) {
	for _, tc := range []struct {
		p    []byte
		want AudioInfo
	}{
		{[]byte{0xaf, 0, 0x12, 0x10}, AudioInfo{SeqHeader: true, Codec: "aac", ConfigKey: 10}},
		{[]byte{0xaf, 1, 0}, AudioInfo{Codec: "aac", ConfigKey: 10}},
		{[]byte{0x2f, 0}, AudioInfo{Codec: "mp3", ConfigKey: 2}},
		{[]byte{0x90, 'O', 'p', 'u', 's'}, AudioInfo{SeqHeader: true, Codec: "opus", ConfigKey: 0x4f707573}},
		{[]byte{0x91, 'O', 'p', 'u', 's'}, AudioInfo{Codec: "opus", ConfigKey: 0x4f707573}},
	} {
		if got := ParseAudio(tc.p); got != tc.want {
			t.Errorf("ParseAudio(%x) = %+v, want %+v", tc.p, got, tc.want)
		}
	}
}

func TestLateJoinerGetsCachesFirst(t *testing.T) {
	reg := NewRegistry(Config{GOPCache: true})
	pub := &testPublisher{}
	s, err := reg.Publish("s", pub)
	if err != nil {
		t.Fatal(err)
	}
	meta := &Frame{Type: protocol.TypeDataAMF0, Payload: []byte("meta"), Metadata: true}
	vh := NewFrame(protocol.TypeVideo, 0, []byte{0x17, 0, 1})
	ah := NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 0, 1})
	k1, i1, k2, i2 := video(true, 10), video(false, 10), video(true, 10), video(false, 10)
	for _, f := range []*Frame{meta, vh, ah, k1, i1, k2, i2} {
		s.Write(pub, f)
	}
	wake := make(chan struct{}, 1)
	sub := NewSubscriber(SubscriberConfig{}, chanSink(wake))
	if _, err := reg.Subscribe("s", sub, true); err != nil {
		t.Fatal(err)
	}
	got := drainEntries(sub)
	want := []*Frame{meta, vh, ah, k2, i2}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Frame != want[i] {
			t.Fatalf("entry %d is not the expected frame", i)
		}
	}
	// A replaced sequence header replaces, not accumulates.
	vh2 := NewFrame(protocol.TypeVideo, 0, []byte{0x17, 0, 2})
	s.Write(pub, vh2)
	if n := len(s.seqHeaders); n != 2 || s.seqHeaders[0] != vh2 {
		t.Fatalf("sequence headers after replacement: %d", n)
	}
}

func TestSlowSubscriberDropsToKeyframeThenOverflows(t *testing.T) {
	reg := NewRegistry(Config{GOPCache: true})
	pub := &testPublisher{}
	s, _ := reg.Publish("s", pub)
	overflowed := 0
	sub := NewSubscriber(SubscriberConfig{MaxBytes: 1000, MaxLag: time.Hour}, funcSink{lag: func() { overflowed++ }})
	if _, err := reg.Subscribe("s", sub, true); err != nil {
		t.Fatal(err)
	}
	s.Write(pub, video(true, 400))
	s.Write(pub, video(false, 400))
	s.Write(pub, video(false, 400)) // does not fit: dropping starts
	s.Write(pub, video(false, 100)) // fits, but we wait for a keyframe
	if got := sub.Len(); got != 2 {
		t.Fatalf("queued %d, want 2", got)
	}
	drainEntries(sub)
	s.Write(pub, video(false, 100)) // still not a keyframe
	k := video(true, 100)
	s.Write(pub, k)
	e := drainEntries(sub)
	if len(e) != 1 || e[0].Frame != k {
		t.Fatalf("after draining, got %d entries; want only the keyframe", len(e))
	}
	if d := sub.Dropped(); d != 3 {
		t.Errorf("dropped %d, want 3", d)
	}

	// A subscriber that never drains is dropped after MaxLag.
	stuck := NewSubscriber(SubscriberConfig{MaxBytes: 1000, MaxLag: 10 * time.Millisecond}, funcSink{lag: func() { overflowed++ }})
	if _, err := reg.Subscribe("s", stuck, true); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Write(pub, video(true, 600))
	}
	time.Sleep(20 * time.Millisecond)
	s.Write(pub, video(true, 600))
	s.Write(pub, video(true, 600))
	if overflowed != 1 {
		t.Fatalf("overflow callbacks %d, want 1", overflowed)
	}
}

func TestTakeover(t *testing.T) {
	reg := NewRegistry(Config{PublisherTimeout: time.Second})
	a, b := &testPublisher{}, &testPublisher{}
	if _, err := reg.Publish("s", a); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Publish("s", b); !errors.Is(err, ErrBadName) {
		t.Fatalf("publish over a live publisher: %v", err)
	}
	a.silence = 2 * time.Second
	sub := NewSubscriber(SubscriberConfig{}, funcSink{})
	if _, err := reg.Subscribe("s", sub, false); err != nil {
		t.Fatal(err)
	}
	s, err := reg.Publish("s", b)
	if err != nil {
		t.Fatalf("takeover of a silent publisher: %v", err)
	}
	if !errors.Is(a.evicted, ErrTakenOver) {
		t.Errorf("old publisher evicted with %v", a.evicted)
	}
	evs := drainEntries(sub)
	if len(evs) != 2 || evs[0].Event != EventUnpublish || evs[1].Event != EventPublish {
		t.Errorf("subscriber events %+v, want unpublish then publish", evs)
	}
	s.Write(a, video(true, 10)) // the evicted publisher's late frames are ignored
	if sub.Len() != 0 {
		t.Error("frame from an evicted publisher was routed")
	}
	s.Unpublish(b)
	s.Unsubscribe(sub)
	if reg.Get("s") != nil {
		t.Error("empty stream not removed")
	}
}

func TestClassifyData(t *testing.T) {
	p := append([]byte("\x02\x00\x0d@setDataFrame"), "\x02\x00\x0aonMetaData\x03\x00\x00\x09"...)
	kind, body := ClassifyData(p)
	if kind != DataSetFrame || !IsMetaData(body) {
		t.Fatalf("ClassifyData = %v, %q", kind, body)
	}
	if k, _ := ClassifyData([]byte("\x02\x00\x0f@clearDataFrame")); k != DataClearFrame {
		t.Fatalf("clear: %v", k)
	}
	if k, _ := ClassifyData([]byte("\x02\x00\x05hello")); k != DataRelay {
		t.Fatalf("relay: %v", k)
	}
}

func TestFLVRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewFLVWriter(&buf, true, true)
	if err != nil {
		t.Fatal(err)
	}
	tags := []FLVTag{
		{Type: protocol.TypeDataAMF0, Data: []byte("\x02\x00\x0aonMetaData")},
		{Type: protocol.TypeVideo, Timestamp: 0x01abcdef, Data: []byte{0x17, 0, 1, 2}},
		{Type: protocol.TypeAudio, Timestamp: 40, Data: []byte{0xaf, 1, 3}},
	}
	for _, tag := range tags {
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewFLVReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasAudio || !r.HasVideo {
		t.Error("header flags lost")
	}
	for i, want := range tags {
		got, err := r.ReadTag()
		if err != nil {
			t.Fatalf("tag %d: %v", i, err)
		}
		if got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("tag %d: %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.ReadTag(); err != io.EOF {
		t.Fatalf("after last tag: %v, want EOF", err)
	}
}

func FuzzFLVReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewFLVWriter(&buf, true, true)
	_ = w.WriteTag(FLVTag{Type: protocol.TypeVideo, Timestamp: 5, Data: []byte{0x17, 1, 0, 0, 0}})
	_ = w.WriteTag(FLVTag{Type: protocol.TypeAudio, Timestamp: 7, Data: []byte{0xaf, 1}})
	f.Add(buf.Bytes())
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\xff\xff\xff"))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewFLVReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 1000 {
			tag, err := r.ReadTag()
			if err != nil {
				return
			}
			if len(tag.Data) > len(data) {
				t.Fatalf("tag of %d bytes from %d bytes of input", len(tag.Data), len(data))
			}
			NewFrame(tag.Type, tag.Timestamp, tag.Data)
		}
	})
}

func FuzzParseMedia(f *testing.F) {
	for _, p := range [][]byte{{0x17, 0, 0}, {0x96, 0x00, 'h', 'v', 'c', '1', 2}, {0x90, 'O', 'p', 'u', 's'}, {0x95, 0x10, 'O', 'p', 'u', 's', 1}} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		ParseVideo(p)
		ParseAudio(p)
		ClassifyData(p)
	})
}

func TestSubscriberRingGrowsToItsBound(t *testing.T) {
	reg := NewRegistry(Config{})
	pub := &testPublisher{}
	s, _ := reg.Publish("s", pub)
	sub := NewSubscriber(SubscriberConfig{MaxFrames: 64, MaxBytes: 1 << 20}, funcSink{})
	if _, err := reg.Subscribe("s", sub, true); err != nil {
		t.Fatal(err)
	}
	frames := make([]*Frame, 100)
	for i := range frames {
		frames[i] = video(i == 0, 10)
		s.Write(pub, frames[i])
	}
	if n := sub.Len(); n != 64 {
		t.Fatalf("queued %d, want the 64-entry bound", n)
	}
	got := drainEntries(sub)
	for i, e := range got {
		if e.Frame != frames[i] {
			t.Fatalf("entry %d out of order after growth", i)
		}
	}
}

func TestMaxStreams(t *testing.T) {
	reg := NewRegistry(Config{MaxStreams: 2})
	if _, err := reg.Publish("a", &testPublisher{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Subscribe("b", NewSubscriber(SubscriberConfig{}, funcSink{}), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Publish("c", &testPublisher{}); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("third stream: %v, want ErrTooManyStreams", err)
	}
	if _, err := reg.Subscribe("d", NewSubscriber(SubscriberConfig{}, funcSink{}), false); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("fourth stream: %v, want ErrTooManyStreams", err)
	}
	// An existing stream still takes players.
	if _, err := reg.Subscribe("a", NewSubscriber(SubscriberConfig{}, funcSink{}), true); err != nil {
		t.Fatal(err)
	}
}

// countedSubscriber publishes a stream (AudioBatch 20 ms) with one
// subscriber that counts its signals, from zero.
func countedSubscriber(t *testing.T) (*Stream, *testPublisher, *Subscriber, *atomic.Int32) {
	t.Helper()
	reg := NewRegistry(Config{AudioBatch: 20 * time.Millisecond})
	pub := &testPublisher{}
	s, err := reg.Publish("s", pub)
	if err != nil {
		t.Fatal(err)
	}
	signals := new(atomic.Int32)
	sub := NewSubscriber(SubscriberConfig{}, funcSink{wake: func() { signals.Add(1) }})
	if _, err := reg.Subscribe("s", sub, true); err != nil {
		t.Fatal(err)
	}
	signals.Store(0) // joining a live stream signals the start-up frames
	return s, pub, sub, signals
}

// TestAudioBatch checks when a subscriber is signalled: at once for video,
// sequence headers and audio-only streams; for audio of a stream with video
// only with the next video frame, or once audio has waited AudioBatch.
func TestAudioBatch(t *testing.T) {
	audio := func() *Frame { return NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 1, 2, 3}) }
	tests := []struct {
		name   string
		frames []*Frame
		sleep  time.Duration // before the last frame
		want   []int         // signals counted after each frame
		held   bool          // the last frame waits: it must go out on its own
	}{
		{"audio only", []*Frame{NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 0, 1}), audio(), audio()}, 0, []int{1, 2, 3}, false},
		{"audio waits for video", []*Frame{video(true, 10), audio(), audio(), video(false, 10)}, 0, []int{1, 1, 1, 2}, false},
		{"audio sequence header goes at once", []*Frame{video(true, 10), NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 0, 1})}, 0, []int{1, 2}, false},
		{"audio goes alone once video stalls", []*Frame{video(true, 10), audio(), audio()}, 30 * time.Millisecond, []int{1, 1, 2}, false},
		{"held audio goes out without a next frame", []*Frame{video(true, 10), audio()}, 0, []int{1, 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, pub, sub, signals := countedSubscriber(t)
			for i, f := range tt.frames {
				if i == len(tt.frames)-1 && tt.sleep > 0 {
					time.Sleep(tt.sleep)
				}
				s.Write(pub, f)
				if got := int(signals.Load()); got != tt.want[i] {
					t.Fatalf("after frame %d: %d signals, want %d", i, got, tt.want[i])
				}
			}
			if sub.Len() != len(tt.frames) {
				t.Errorf("queued %d frames, want %d (batching must not drop)", sub.Len(), len(tt.frames))
			}
			// Held audio goes out on its own once nothing follows it.
			before := signals.Load()
			deadline := time.Now().Add(5 * time.Second)
			for tt.held && signals.Load() == before {
				if time.Now().After(deadline) {
					t.Fatal("held audio never released")
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestWriteMore: frames written with more behind them are signalled with
// the next Write, or after the hold limit when nothing follows.
func TestWriteMore(t *testing.T) {
	s, pub, sub, signals := countedSubscriber(t)
	s.WriteMore(pub, video(true, 10))
	s.WriteMore(pub, video(false, 10))
	if n := signals.Load(); n != 0 {
		t.Fatalf("%d signals for frames with more behind them", n)
	}
	s.Write(pub, video(false, 10))
	if n := signals.Load(); n != 1 {
		t.Fatalf("%d signals after the backlog's last frame, want 1", n)
	}
	if sub.Len() != 3 {
		t.Fatalf("queued %d frames, want 3", sub.Len())
	}
	// A video frame held for the audio behind it goes out with that audio,
	// not with the next video frame.
	s.WriteMore(pub, video(false, 10))
	s.Write(pub, NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 1, 2, 3}))
	if n := signals.Load(); n != 2 {
		t.Fatalf("%d signals after video held for audio, want 2", n)
	}
	signals.Store(1)
	s.WriteMore(pub, video(false, 10)) // and then the publisher goes quiet
	deadline := time.Now().Add(5 * time.Second)
	for signals.Load() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("a held frame was never released")
		}
		time.Sleep(time.Millisecond)
	}
}

// funcSink is a Sink of two functions, either of which may be nil.
type funcSink struct{ wake, lag func() }

func (s funcSink) Wake() {
	if s.wake != nil {
		s.wake()
	}
}

func (s funcSink) Lagging() {
	if s.lag != nil {
		s.lag()
	}
}

// chanSink wakes by signalling ch without blocking.
func chanSink(ch chan struct{}) Sink { return &ChanSink{C: ch} }

// countingFanout is a Fanout that records its use.
type countingFanout struct {
	woken  atomic.Int32
	closed atomic.Bool
}

func (f *countingFanout) Wake(sinks []Sink) {
	f.woken.Add(int32(len(sinks)))
	for _, s := range sinks {
		s.Wake()
	}
}
func (f *countingFanout) FramesPerWrite() int { return 3 }
func (f *countingFanout) Close()              { f.closed.Store(true) }

// TestFanoutPerStream: a published stream's frames are woken through a
// Fanout of its own from Config.Fanout, made at the first frame and
// closed when the publisher leaves; a joiner is woken directly; stream
// info reports the Fanout's frames per write while published.
func TestFanoutPerStream(t *testing.T) {
	var made []*countingFanout
	reg := NewRegistry(Config{Fanout: func() Fanout {
		f := &countingFanout{}
		made = append(made, f)
		return f
	}})
	pub := &testPublisher{}
	s, err := reg.Publish("s", pub)
	if err != nil {
		t.Fatal(err)
	}
	var wakes atomic.Int32
	for range 3 {
		if _, err := reg.Subscribe("s", NewSubscriber(SubscriberConfig{}, funcSink{wake: func() { wakes.Add(1) }}), true); err != nil {
			t.Fatal(err)
		}
	}
	if len(made) != 0 {
		t.Fatalf("%d fan-outs made before the first frame", len(made))
	}
	s.Write(pub, video(true, 10))
	s.Write(pub, video(false, 10))
	// Each joiner was woken once directly, then twice through the fan-out.
	if len(made) != 1 || made[0].woken.Load() != 6 || wakes.Load() != 9 {
		t.Fatalf("fan-outs %d, woken through it %d, wakes %d; want 1, 6, 9", len(made), made[0].woken.Load(), wakes.Load())
	}
	if k := s.Info().FramesPerWrite; k != 3 {
		t.Fatalf("frames per write %d, want the fan-out's 3", k)
	}
	s.Unpublish(pub)
	if !made[0].closed.Load() {
		t.Fatal("the fan-out outlived its publisher")
	}
	if k := s.Info().FramesPerWrite; k != 1 {
		t.Fatalf("frames per write %d unpublished, want 1", k)
	}
	pub2 := &testPublisher{}
	if _, err := reg.Publish("s", pub2); err != nil {
		t.Fatal(err)
	}
	s.Write(pub2, video(true, 10))
	if len(made) != 2 {
		t.Fatalf("a new publisher got %d fan-outs in all, want a second", len(made))
	}
	s.Unpublish(pub2)
}

// audienceSink is a sink that stands for several players.
type audienceSink struct {
	*ChanSink
	n int
}

func (s audienceSink) Viewers() int { return s.n }

// TestAudienceCounts: a sink that is an Audience counts as its viewers in
// a stream's subscribers and in its protocol's count; others count one.
func TestAudienceCounts(t *testing.T) {
	reg := NewRegistry(Config{})
	p := &testPublisher{}
	st, err := reg.Publish("s", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*Subscriber{
		NewSubscriber(SubscriberConfig{Label: "hls"}, audienceSink{NewChanSink(nil), 3}),
		NewSubscriber(SubscriberConfig{Label: "rtmp"}, NewChanSink(nil)),
		NewSubscriber(SubscriberConfig{Label: "hls"}, audienceSink{NewChanSink(nil), 0}),
	} {
		if _, err := reg.Subscribe("s", sub, true); err != nil {
			t.Fatal(err)
		}
	}
	info := st.Info()
	if info.Subscribers != 4 || info.SubscribersByProtocol["hls"] != 3 || info.SubscribersByProtocol["rtmp"] != 1 {
		t.Errorf("subscribers %d, by protocol %v; want 4, hls 3 and rtmp 1", info.Subscribers, info.SubscribersByProtocol)
	}
}
