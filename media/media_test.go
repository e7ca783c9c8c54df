package media

import (
	"bytes"
	"errors"
	"io"
	"sync"
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
	sub := NewSubscriber(SubscriberConfig{}, ChanNotify(wake), nil)
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
	sub := NewSubscriber(SubscriberConfig{MaxBytes: 1000, MaxLag: time.Hour}, func(Batch) {}, func() { overflowed++ })
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
	stuck := NewSubscriber(SubscriberConfig{MaxBytes: 1000, MaxLag: 10 * time.Millisecond}, func(Batch) {}, func() { overflowed++ })
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
	sub := NewSubscriber(SubscriberConfig{}, func(Batch) {}, nil)
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
	sub := NewSubscriber(SubscriberConfig{MaxFrames: 64, MaxBytes: 1 << 20}, func(Batch) {}, nil)
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
	if _, err := reg.Subscribe("b", NewSubscriber(SubscriberConfig{}, func(Batch) {}, nil), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Publish("c", &testPublisher{}); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("third stream: %v, want ErrTooManyStreams", err)
	}
	if _, err := reg.Subscribe("d", NewSubscriber(SubscriberConfig{}, func(Batch) {}, nil), false); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("fourth stream: %v, want ErrTooManyStreams", err)
	}
	// An existing stream still takes players.
	if _, err := reg.Subscribe("a", NewSubscriber(SubscriberConfig{}, func(Batch) {}, nil), true); err != nil {
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
	sub := NewSubscriber(SubscriberConfig{}, func(Batch) { signals.Add(1) }, nil)
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

// TestParallelSignal: a frame for many subscribers is signalled by several
// goroutines at once, each subscriber exactly once, and Write returns only
// when every signal is done. The first subscriber's notify waits until
// a subscriber of another share has been signalled, which only happens if
// the shares run concurrently.
func TestParallelSignal(t *testing.T) {
	tests := []struct {
		name     string
		parallel int
		subs     int
		lastCost time.Duration // the previous fan-out's one-goroutine time
		parts    int           // shares expected to run at once
	}{
		{"two shares", 2, 2 * minParallelShare, 0, 2},
		{"four shares, uneven", 4, 4*minParallelShare + 7, 0, 4},
		{"too few subscribers to split", 4, 2*minParallelShare - 1, 0, 1},
		{"parallel off", 1, 4 * minParallelShare, 0, 1},
		{"within the budget", 2, 2 * minParallelShare, 2*parallelBudget - time.Millisecond, 2},
		{"past the budget: the other cores stay free", 2, 2 * minParallelShare, 2*parallelBudget + time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := NewRegistry(Config{Parallel: tt.parallel})
			pub := &testPublisher{}
			s, err := reg.Publish("s", pub)
			if err != nil {
				t.Fatal(err)
			}
			counts := make([]atomic.Int32, tt.subs)
			var armed atomic.Bool
			defer func() {
				armed.Store(false) // Unpublish signals the subscribers too
				s.Unpublish(pub)   // and ends the helpers
			}()
			lastSignalled := make(chan struct{}, 1) // the last subscriber's signal
			subs := make([]*Subscriber, tt.subs)
			for i := range subs {
				notify := func(Batch) {
					counts[i].Add(1)
					if !armed.Load() {
						return
					}
					switch i {
					case tt.subs - 1:
						lastSignalled <- struct{}{}
					case 0:
						if tt.parts == 1 {
							return
						}
						select {
						case <-lastSignalled:
						case <-time.After(5 * time.Second):
							t.Error("the last share was not signalled while the first was")
						}
					}
				}
				subs[i] = NewSubscriber(SubscriberConfig{}, notify, nil)
				if _, err := reg.Subscribe("s", subs[i], true); err != nil {
					t.Fatal(err)
				}
			}
			for i := range counts {
				counts[i].Store(0) // joining a live stream signals once
			}
			armed.Store(true)
			s.fanCost = tt.lastCost
			s.Write(pub, video(true, 10))
			for i := range counts {
				if got := counts[i].Load(); got != 1 {
					t.Fatalf("subscriber %d signalled %d times, want 1 (before Write returned)", i, got)
				}
				if n := subs[i].Len(); n != 1 {
					t.Fatalf("subscriber %d holds %d frames, want 1", i, n)
				}
			}
			if tt.parts == 1 && len(lastSignalled) != 1 {
				t.Fatal("the last subscriber was not signalled")
			}
		})
	}
}

// recordingBatch is a Batch that counts what was gathered into it.
type recordingBatch struct {
	mu       sync.Mutex
	notified int // notify calls before Flush
	flushed  int // Flush calls
	late     int // notify calls after Flush
}

func (b *recordingBatch) Flush() {
	b.mu.Lock()
	b.flushed++
	b.mu.Unlock()
}

// TestBatchPerShare: each goroutine signalling a share of a fan-out takes
// a batch of its own from Config.Batch, hands it to every notify of its
// share and flushes it once after the last, before Write returns; without
// a batch to take, notify gets nil. Outside a fan-out (joining a live
// stream) notify gets nil too.
func TestBatchPerShare(t *testing.T) {
	for _, tt := range []struct {
		name     string
		parallel int
		subs     int
		batches  bool
		shares   int
	}{
		{"one share", 1, 40, true, 1},
		{"two shares", 2, 2 * minParallelShare, true, 2},
		{"no batch to take", 2, 2 * minParallelShare, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var taken []*recordingBatch
			cfg := Config{Parallel: tt.parallel, Batch: func() Batch {
				if !tt.batches {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				b := &recordingBatch{}
				taken = append(taken, b)
				return b
			}}
			reg := NewRegistry(cfg)
			pub := &testPublisher{}
			s, err := reg.Publish("s", pub)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Unpublish(pub)
			s.Write(pub, video(true, 10))
			got := make([]Batch, tt.subs)
			var live atomic.Bool
			for i := range got {
				sub := NewSubscriber(SubscriberConfig{}, func(b Batch) {
					if !live.Load() {
						if b != nil {
							t.Error("joining a live stream signalled with a batch")
						}
						return
					}
					got[i] = b
					if rb, ok := b.(*recordingBatch); ok {
						rb.mu.Lock()
						if rb.flushed > 0 {
							rb.late++
						}
						rb.notified++
						rb.mu.Unlock()
					}
				}, nil)
				if _, err := reg.Subscribe("s", sub, true); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			taken = nil // joining took none; count the frame's
			mu.Unlock()
			live.Store(true)
			s.Write(pub, video(false, 10))
			mu.Lock()
			defer mu.Unlock()
			if len(taken) != tt.shares {
				t.Fatalf("%d batches taken, want %d", len(taken), tt.shares)
			}
			total := 0
			for i, b := range taken {
				if b.flushed != 1 || b.late != 0 {
					t.Errorf("batch %d flushed %d times, %d notifies after the flush", i, b.flushed, b.late)
				}
				total += b.notified
			}
			if tt.batches && total != tt.subs {
				t.Errorf("%d notifies with a batch, want %d", total, tt.subs)
			}
			for i, b := range got {
				if (b == nil) == tt.batches {
					t.Fatalf("subscriber %d got batch %v", i, b)
				}
				if share := tt.subs / max(tt.shares, 1); tt.batches && i%share != 0 && b != got[i-1] {
					t.Fatalf("subscribers %d and %d of one share got different batches", i-1, i)
				}
			}
		})
	}
}
