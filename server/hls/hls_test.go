package hls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/httpflv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Request
		ok   bool
	}{
		{"/live/cam/index.m3u8", Request{httpflv.Target{App: "live", Stream: "cam"}, FMP4, "index.m3u8"}, true},
		{"/live/room/cam/index.m3u8", Request{httpflv.Target{App: "live", Instance: "room", Stream: "cam"}, FMP4, "index.m3u8"}, true},
		{"/live/cam/ts/index.m3u8", Request{httpflv.Target{App: "live", Stream: "cam"}, TS, "index.m3u8"}, true},
		{"/live/room/cam/ts/main_stream.m3u8", Request{httpflv.Target{App: "live", Instance: "room", Stream: "cam"}, TS, "main_stream.m3u8"}, true},
		{"/live/cam/ab12_video1_part3.mp4", Request{httpflv.Target{App: "live", Stream: "cam"}, FMP4, "ab12_video1_part3.mp4"}, true},
		// "ts" as the third of four elements is the TS variant.
		{"/live/room/ts/index.m3u8", Request{httpflv.Target{App: "live", Stream: "room"}, TS, "index.m3u8"}, true},
		{"/live/ts/index.m3u8", Request{httpflv.Target{App: "live", Stream: "ts"}, FMP4, "index.m3u8"}, true},
		{"/live/index.m3u8", Request{}, false},
		{"/live/cam.flv", Request{}, false},
		{"/live/cam/index.html", Request{}, false},
		{"/live/cam/../index.m3u8", Request{}, false},
		{"/live/../cam/index.m3u8", Request{}, false},
		{"/live/cam/.m3u8", Request{}, false},
		{"/live/cam/a b.m3u8", Request{}, false},
		{"/a/b/c/d/e/index.m3u8", Request{}, false},
		{"live/cam/index.m3u8", Request{}, false},
		{"/" + strings.Repeat("a", 1100) + "/cam/index.m3u8", Request{}, false},
	} {
		got, ok := ParsePath(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSessions(t *testing.T) {
	s := newSessions()
	id, v := s.issue("live/_definst_/cam")
	if got, ok := s.check("live/_definst_/cam", v); !ok || got != id {
		t.Fatalf("check of an issued session: %q %v", got, ok)
	}
	for _, bad := range []string{"", id, id + ".", v + "x", "x" + v[1:], strings.Replace(v, ".", "", 1)} {
		if _, ok := s.check("live/_definst_/cam", bad); ok {
			t.Errorf("check(%q) passed", bad)
		}
	}
	if _, ok := s.check("live/_definst_/other", v); ok {
		t.Error("a session passed for another stream")
	}
	if _, ok := newSessions().check("live/_definst_/cam", v); ok {
		t.Error("a session passed under another key (a restarted server)")
	}
	if q := withSession("token=a%20b", v); q != "token=a%20b&hls_session="+v {
		t.Errorf("withSession = %q", q)
	}
}

// avcRecord is an AVCDecoderConfigurationRecord with one SPS and one PPS,
// NAL units prefixed by lengthSize bytes.
func avcRecord(sps, pps []byte, lengthSize int) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xfc | byte(lengthSize-1), 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

func TestVideoConversion(t *testing.T) {
	sps, pps := []byte{0x67, 0x64, 0, 0x1f, 0xac}, []byte{0x68, 0xee, 0x3c}
	c, err := parseAVCConfig(avcRecord(sps, pps, 4))
	if err != nil || !bytes.Equal(c.sps, sps) || !bytes.Equal(c.pps, pps) || c.lengthSize != 4 || c.codec != codecH264 {
		t.Fatalf("parseAVCConfig = %+v, %v", c, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, avcRecord(sps, pps, 4)[:10], {0, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 1, 0x67, 1, 0, 1, 0x68}} {
		if _, err := parseAVCConfig(bad); err == nil {
			t.Errorf("parseAVCConfig(% x) passed", bad)
		}
	}

	// Legacy AVC: a keyframe with a negative composition offset, two NAL units.
	frame := []byte{0x17, 1, 0xff, 0xff, 0xd8, 0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06}
	v, ok := parseVideo(frame)
	if !ok || v.seqHeader || v.codec != codecH264 || v.cts != -40 {
		t.Fatalf("parseVideo(legacy) = %+v, %v", v, ok)
	}
	au, err := splitNALUs(nil, v.data, 4)
	if err != nil || len(au) != 2 || !bytes.Equal(au[0], []byte{0x65, 0x88}) || !bytes.Equal(au[1], []byte{0x06}) {
		t.Errorf("splitNALUs = %x, %v", au, err)
	}
	if _, err := splitNALUs(nil, []byte{0, 0, 0, 9, 1}, 4); err == nil {
		t.Error("splitNALUs of a truncated unit passed")
	}
	if au, err := splitNALUs(nil, []byte{0, 1, 0x41, 0, 2, 0x41, 0x42}, 2); err != nil || len(au) != 2 {
		t.Errorf("splitNALUs with 2-byte lengths = %x, %v", au, err)
	}
	if v, ok := parseVideo([]byte{0x17, 0, 0, 0, 0, 1}); !ok || !v.seqHeader {
		t.Errorf("parseVideo(legacy sequence header) = %+v, %v", v, ok)
	}

	// Enhanced RTMP: hvc1 CodedFramesX, avc1 CodedFrames, multitrack (skipped), VP9 (skipped).
	if v, ok := parseVideo([]byte{0x93, 'h', 'v', 'c', '1', 0, 0, 0, 1, 0x26}); !ok || v.codec != codecH265 || v.cts != 0 || len(v.data) != 5 {
		t.Errorf("parseVideo(hvc1 CodedFramesX) = %+v, %v", v, ok)
	}
	if v, ok := parseVideo([]byte{0x91, 'a', 'v', 'c', '1', 0, 0, 80, 0, 0, 0, 1, 0x41}); !ok || v.codec != codecH264 || v.cts != 80 {
		t.Errorf("parseVideo(avc1 CodedFrames) = %+v, %v", v, ok)
	}
	if v, ok := parseVideo([]byte{0x90, 'h', 'v', 'c', '1', 1}); !ok || !v.seqHeader || v.codec != codecH265 {
		t.Errorf("parseVideo(hvc1 SequenceStart) = %+v, %v", v, ok)
	}
	for _, p := range [][]byte{{0x96, 0x01, 'a', 'v', 'c', '1', 0}, {0x91, 'v', 'p', '0', '9', 0, 0, 0}, {0x12, 1}, {0x57, 1, 0, 0, 0}, nil} {
		if v, ok := parseVideo(p); ok {
			t.Errorf("parseVideo(% x) = %+v: want it skipped", p, v)
		}
	}
}

func TestHEVCConfig(t *testing.T) {
	rec := make([]byte, 23)
	rec[0], rec[21], rec[22] = 1, 0xf3, 3
	for _, nal := range [][]byte{{0x40, 1, 0xa}, {0x42, 1, 0xb}, {0x44, 1, 0xc}} {
		rec = append(rec, nal[0]>>1, 0, 1)
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(nal)))
		rec = append(rec, nal...)
	}
	c, err := parseHEVCConfig(rec)
	if err != nil || c.vps[2] != 0xa || c.sps[2] != 0xb || c.pps[2] != 0xc || c.lengthSize != 4 {
		t.Fatalf("parseHEVCConfig = %+v, %v", c, err)
	}
	if _, err := parseHEVCConfig(rec[:len(rec)-2]); err == nil {
		t.Error("parseHEVCConfig of a truncated record passed")
	}
}

func TestAudioConversion(t *testing.T) {
	if a, ok := parseAudio([]byte{0xaf, 0, 0x12, 0x10}); !ok || !a.seqHeader || !bytes.Equal(a.data, []byte{0x12, 0x10}) {
		t.Errorf("parseAudio(legacy header) = %+v, %v", a, ok)
	}
	if a, ok := parseAudio([]byte{0xaf, 1, 0x21, 0x22}); !ok || a.seqHeader || len(a.data) != 2 {
		t.Errorf("parseAudio(legacy frame) = %+v, %v", a, ok)
	}
	if a, ok := parseAudio([]byte{0x91, 'm', 'p', '4', 'a', 0x21}); !ok || a.seqHeader || len(a.data) != 1 {
		t.Errorf("parseAudio(mp4a CodedFrames) = %+v, %v", a, ok)
	}
	for _, p := range [][]byte{{0x2f, 1, 2}, {0x91, 'O', 'p', 'u', 's', 1}, {0xaf}} {
		if a, ok := parseAudio(p); ok {
			t.Errorf("parseAudio(% x) = %+v: want it skipped", p, a)
		}
	}
	c, err := parseAAC([]byte{0x12, 0x10})
	if err != nil || c.SampleRate != 44100 || c.ChannelCount != 2 {
		t.Errorf("parseAAC = %+v, %v", c, err)
	}
	if _, err := parseAAC([]byte{0x12}); err == nil {
		t.Error("parseAAC of one byte passed")
	}
}

func TestClock(t *testing.T) {
	var c clock
	for _, tc := range []struct {
		ts   uint32
		want int64
	}{{4294967000, 4294967000}, {4294967290, 4294967290}, {10, 4294967306}, {5, 4294967301}, {1000, 4294968296}} {
		if got := c.ms(tc.ts); got != tc.want {
			t.Errorf("ms(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}

// publisher is a media.Publisher for tests.
type publisher struct{}

func (publisher) Silence() time.Duration { return 0 }
func (publisher) Evict(error)            {}

// startAudioMuxer publishes an AAC stream on a registry and starts a
// muxer of it, fed 7 s of audio at once.
func startAudioMuxer(t *testing.T, v Variant, idle time.Duration) (*muxer, *media.Stream, chan struct{}) {
	t.Helper()
	reg := media.NewRegistry(media.Config{GOPCache: true})
	st, err := reg.Publish("a", publisher{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	m := newMuxer("a#"+v.String(), st, v, Config{Segment: time.Second, Part: 200 * time.Millisecond, Segments: 7,
		SegmentMaxBytes: 1 << 20, Idle: idle}, stop, zap.NewNop())
	if _, err := reg.Subscribe("a", m.sub, true); err != nil {
		t.Fatal(err)
	}
	go m.run(func(*muxer) {})
	st.Write(publisher{}, media.NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 0, 0x12, 0x10}))
	for i := range 300 { // 1024 samples at 44.1 kHz: 23.2 ms each; the TS variant cuts a segment at 100 of them
		st.Write(publisher{}, media.NewFrame(protocol.TypeAudio, uint32(i*1024*1000/44100), []byte{0xaf, 1, 0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}))
	}
	select {
	case <-m.started:
	case <-m.done:
		t.Fatalf("the muxer ended: %v", m.err)
	case <-time.After(5 * time.Second):
		t.Fatal("the muxer did not start")
	}
	return m, st, stop
}

// TestMuxerAudioOnly: a stream of AAC alone is muxed once a second of it
// has come without video; its playlists list an audio track; the stream
// counts the muxer's viewers as HLS subscribers; the muxer ends with its
// publisher.
func TestMuxerAudioOnly(t *testing.T) {
	for _, v := range []Variant{FMP4, TS} {
		t.Run(v.String(), func(t *testing.T) {
			m, st, _ := startAudioMuxer(t, v, time.Minute)
			rec := httptest.NewRecorder()
			m.hls.Handle(rec, httptest.NewRequest(http.MethodGet, "/a/index.m3u8", nil))
			want := "mp4a.40.2"
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
				t.Errorf("index.m3u8: %d\n%s", rec.Code, rec.Body)
			}
			now := time.Now()
			m.touch("one", now)
			m.touch("two", now)
			m.touch("one", now)
			if n := st.Info().SubscribersByProtocol["hls"]; n != 2 {
				t.Errorf("%d HLS subscribers for two viewers", n)
			}
			m.prune(now.Add(m.viewerWindow + time.Second))
			if n := st.Info().SubscribersByProtocol["hls"]; n != 0 {
				t.Errorf("%d HLS subscribers after the viewers left", n)
			}
			st.Unpublish(publisher{})
			select {
			case <-m.done:
				if !errors.Is(m.err, errUnpublished) {
					t.Errorf("ended with %v, want errUnpublished", m.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the muxer did not end with its publisher")
			}
			if st.Info().Subscribers != 0 {
				t.Error("the muxer still subscribes")
			}
		})
	}
}

// TestMuxerIdleAndStop: a muxer nobody asks ends after its idle time, but
// not while a request is being answered; Handler.Close's stop ends one at
// once.
func TestMuxerIdleAndStop(t *testing.T) {
	m, _, _ := startAudioMuxer(t, FMP4, 500*time.Millisecond)
	m.inflight.Add(1)
	select {
	case <-m.done:
		t.Fatalf("ended with a request in flight: %v", m.err)
	case <-time.After(2500 * time.Millisecond):
	}
	m.inflight.Add(-1)
	select {
	case <-m.done:
		if !errors.Is(m.err, errIdle) {
			t.Errorf("ended with %v, want errIdle", m.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the idle muxer did not end")
	}

	m, _, stop := startAudioMuxer(t, TS, time.Minute)
	close(stop)
	select {
	case <-m.done:
		if !errors.Is(m.err, errStopped) {
			t.Errorf("ended with %v, want errStopped", m.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the stopped muxer did not end")
	}
}
