package webrtc

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

// TestAVCConfigRoundTrip: the record built from an SPS and a PPS parses
// back to them, with 4-byte lengths; truncated records are refused.
func TestAVCConfigRoundTrip(t *testing.T) {
	rec := appendAVCConfig(nil, testSPS, testPPS)
	c, err := parseAVCConfig(rec)
	if err != nil {
		t.Fatal(err)
	}
	if c.lengthSize != 4 || len(c.sps) != 1 || !bytes.Equal(c.sps[0], testSPS) || len(c.pps) != 1 || !bytes.Equal(c.pps[0], testPPS) {
		t.Fatalf("parsed %+v", c)
	}
	for n := range len(rec) {
		if _, err := parseAVCConfig(rec[:n]); err == nil {
			t.Errorf("a record cut to %d bytes parsed", n)
		}
	}
}

// TestParseAVC: legacy and Enhanced RTMP H.264 payloads, signed
// composition offsets, and what is not H.264.
func TestParseAVC(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       []byte
		ok      bool
		key, sh bool
		cts     int32
	}{
		{"legacy keyframe", []byte{0x17, 1, 0, 0, 40, 9}, true, true, false, 40},
		{"legacy negative cts", []byte{0x27, 1, 0xff, 0xff, 0xd8, 9}, true, false, false, -40},
		{"legacy sequence header", []byte{0x17, 0, 0, 0, 0, 1}, true, false, true, 0},
		{"legacy end of sequence", []byte{0x17, 2, 0, 0, 0}, false, false, false, 0},
		{"vp6", []byte{0x14, 0, 0, 0, 0}, false, false, false, 0},
		{"enhanced coded frames", []byte{0x91, 'a', 'v', 'c', '1', 0, 0, 80, 9}, true, true, false, 80},
		{"enhanced frames X", []byte{0xa3, 'a', 'v', 'c', '1', 9}, true, false, false, 0},
		{"enhanced sequence start", []byte{0x90, 'a', 'v', 'c', '1', 1}, true, false, true, 0},
		{"enhanced hevc", []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0, 9}, false, false, false, 0},
	} {
		v, ok := parseAVC(tc.p)
		if ok != tc.ok || (ok && (v.keyframe != tc.key || v.seqHeader != tc.sh || v.cts != tc.cts)) {
			t.Errorf("%s: %+v %v", tc.name, v, ok)
		}
	}
	if p, ok := opusPacket([]byte{0x91, 'O', 'p', 'u', 's', 0xfc, 1}); !ok || !bytes.Equal(p, []byte{0xfc, 1}) {
		t.Errorf("opus coded frames: %x %v", p, ok)
	}
	if _, ok := opusPacket([]byte{0x90, 'O', 'p', 'u', 's', 'O'}); ok {
		t.Error("an Opus sequence start taken for a packet")
	}
}

// TestAVCCToAnnexB: length prefixes become start codes; a truncated unit
// ends the frame.
func TestAVCCToAnnexB(t *testing.T) {
	avcc := []byte{0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x06, 0, 0, 0, 9, 1}
	got := avccToAnnexB(nil, avcc, 4)
	want := []byte{0, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x06}
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

// packetize makes the RTP packets of one access unit as a WHIP client
// would (pion's payloader: STAP-A for the parameter sets, FU-A for large
// units), numbering from *seq.
func packetize(annexB []byte, ts uint32, seq *uint16) []*rtp.Packet {
	var p codecs.H264Payloader
	var out []*rtp.Packet
	payloads := p.Payload(200, annexB)
	for i, pl := range payloads {
		out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: *seq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: pl})
		*seq++
	}
	return out
}

func annexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

// TestAssembler: pictures are assembled on the marker bit into AVCC
// without parameter sets, the first keyframe brings the record, nothing
// goes out before it, and a lost packet drops pictures (and asks for a
// keyframe) until the next keyframe.
func TestAssembler(t *testing.T) {
	idr := append([]byte{0x65}, bytes.Repeat([]byte{7}, 700)...) // fragmented
	p1 := []byte{0x41, 1, 2, 3}
	var got []accessUnit
	emit := func(au *accessUnit) {
		c := *au
		c.avcc = append([]byte(nil), au.avcc...)
		got = append(got, c)
	}
	a := newAUAssembler()
	var seq uint16 = 65530 // wraps
	feed := func(pkts []*rtp.Packet) (lost bool) {
		for _, p := range pkts {
			lost = a.push(p, emit) || lost
		}
		return lost
	}
	feed(packetize(annexB(p1), 0, &seq)) // before any keyframe: dropped
	feed(packetize(annexB(testSPS, testPPS, idr), 3000, &seq))
	feed(packetize(annexB(p1), 6000, &seq))
	if len(got) != 2 {
		t.Fatalf("%d pictures, want 2", len(got))
	}
	if !got[0].keyframe || got[0].rtpTS != 3000 || !bytes.Equal(got[0].config, appendAVCConfig(nil, testSPS, testPPS)) {
		t.Errorf("first picture: key %v ts %d config % x", got[0].keyframe, got[0].rtpTS, got[0].config)
	}
	if want := binary.BigEndian.AppendUint32(nil, uint32(len(idr))); !bytes.Equal(got[0].avcc, append(want, idr...)) {
		t.Errorf("keyframe AVCC is %d bytes, want the IDR alone (%d)", len(got[0].avcc), len(idr)+4)
	}
	if got[1].keyframe || got[1].config != nil || !bytes.Equal(got[1].avcc[4:], p1) {
		t.Errorf("second picture: %+v", got[1])
	}

	// A fragment of a keyframe is lost: that picture and the next are
	// dropped; the following keyframe comes through, without a record
	// (the parameter sets did not change).
	pkts := packetize(annexB(testSPS, testPPS, idr), 9000, &seq)
	if !feed(append(pkts[:2:2], pkts[3:]...)) {
		t.Error("a lost packet not reported")
	}
	feed(packetize(annexB(p1), 12000, &seq))
	feed(packetize(annexB(idr), 15000, &seq))
	if len(got) != 3 || !got[2].keyframe || got[2].rtpTS != 15000 || got[2].config != nil {
		t.Fatalf("after the loss: %d pictures, last %+v", len(got), got[len(got)-1])
	}

	// A picture that never ends is bounded.
	big := bytes.Repeat([]byte{1}, 1100)
	lost := false
	for i := 0; i <= maxAccessUnit/len(big)+1 && !lost; i++ {
		lost = a.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: 18000}, Payload: append([]byte{0x41}, big...)}, emit)
		seq++
	}
	if !lost || len(a.buf) != 0 {
		t.Errorf("an endless picture: lost %v, %d bytes held", lost, len(a.buf))
	}
}

// TestPlayClock: a GOP cache that arrives at once is stamped a
// millisecond apart, live frames then follow the wall clock, the
// follower drops what falls behind, and a publisher's clock jumping back
// keeps the timeline increasing.
func TestPlayClock(t *testing.T) {
	var c playClock
	t0 := time.Unix(1000, 0)
	var outs []int64
	for ts := uint32(5000); ts < 7000; ts += 40 { // 2 s of cache at once
		outs = append(outs, c.drive(ts, t0))
	}
	for i := 1; i < len(outs); i++ {
		if outs[i] <= outs[i-1] {
			t.Fatalf("cache frame %d: %d after %d", i, outs[i], outs[i-1])
		}
	}
	if last := outs[len(outs)-1]; last > 200 {
		t.Errorf("the cache ends at %d ms on a timeline that started 0 ms ago", last)
	}
	if _, ok := c.follow(5020); ok {
		t.Error("cached audio behind the timeline not dropped")
	}
	// Live: 40 ms apart on both clocks, once the squeeze is over.
	var prev int64
	for i := range 50 {
		ts := uint32(7000 + 40*i)
		prev = c.drive(ts, t0.Add(time.Duration(40*i+40)*time.Millisecond))
	}
	next := c.drive(7000+40*50, t0.Add(time.Duration(40*50+40)*time.Millisecond))
	if next-prev != 40 {
		t.Errorf("live frames %d ms apart, want 40", next-prev)
	}
	if a, ok := c.follow(7000 + 40*50); !ok || a != next {
		t.Errorf("audio at the video's time: %d %v, want %d", a, ok, next)
	}
	// A new publisher starts at 0.
	if back := c.drive(0, t0.Add(time.Duration(40*51+40)*time.Millisecond)); back <= next {
		t.Errorf("after the clock jumped back: %d, not after %d", back, next)
	}
}

// TestRTPClock: RTP timestamps map to milliseconds from the track's
// first packet's arrival, across the 32-bit wrap.
func TestRTPClock(t *testing.T) {
	c := rtpClock{rate: 90000}
	if ms := c.ms(0xffffff00, 500*time.Millisecond); ms != 500 {
		t.Errorf("first: %d", ms)
	}
	if ms := c.ms(90000-0x100, time.Second); ms != 1500 {
		t.Errorf("after the wrap: %d, want 1500", ms)
	}
}

// TestSplitPath: the WHEP and WHIP URLs and their session resources.
func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		path, rest, resource string
		whip, ok             bool
	}{
		{"/live/cam/whep", "/live/cam", "", false, true},
		{"/live/inst/cam/whip", "/live/inst/cam", "", true, true},
		{"/live/cam/whep/0123456789abcdef0123456789abcdef", "/live/cam", "0123456789abcdef0123456789abcdef", false, true},
		{"/live/whep/whep", "/live/whep", "", false, true},
		{"/live/cam/whep/nothex", "", "", false, false},
		{"/live/cam.flv", "", "", false, false},
	} {
		rest, res, whip, ok := splitPath(tc.path)
		if ok != tc.ok || (ok && (rest != tc.rest || res != tc.resource || whip != tc.whip)) {
			t.Errorf("%s: %q %q %v %v", tc.path, rest, res, whip, ok)
		}
	}
}
