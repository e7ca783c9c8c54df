package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/web"
)

// webrtcLoopback confines the server's ICE to 127.0.0.1, as tests must.
func webrtcLoopback(cfg *config.Config) {
	cfg.WebRTC.IPs = []string{"127.0.0.1"}
}

// pionAPI is a pion client's API: default codecs, host candidates on
// loopback only, no mDNS.
func pionAPI(t *testing.T) *pion.API {
	t.Helper()
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(se))
}

// pionClient is a WHEP or WHIP client's PeerConnection, closed (and its
// session deleted) when the test ends.
type pionClient struct {
	pc        *pion.PeerConnection
	location  string
	connected chan struct{}
}

// newPionPC makes a client PeerConnection that reports when it connects.
func newPionPC(t *testing.T) *pionClient {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &pionClient{pc: pc, connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	t.Cleanup(func() { _ = pc.GracefulClose() })
	return c
}

// offer makes the client's offer, with every candidate.
func (c *pionClient) offer(t *testing.T) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return c.pc.LocalDescription().SDP
}

// postSDP posts an offer and returns the answer's status, body and Location.
func postSDP(t *testing.T, url, contentType, body string) (int, string, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// negotiate posts the client's offer to url, applies the answer and waits
// for the connection.
func (c *pionClient) negotiate(t *testing.T, ts *testServer, path string) {
	t.Helper()
	status, body, loc := postSDP(t, ts.playURL(path), "application/sdp", c.offer(t))
	if status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, status, body)
	}
	if !strings.HasPrefix(loc, path+"/") {
		t.Fatalf("Location %q, want %s/ID", loc, path)
	}
	c.location = ts.playURL(loc)
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("answer: %v\n%s", err, body)
	}
	select {
	case <-c.connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no connection in 10 s", path)
	}
}

// httpDo sends a bodiless request and returns its status.
func httpDo(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// received is what a WHEP test client got of one track.
type received struct {
	mu        sync.Mutex
	codec     string
	packets   int
	nalTypes  map[byte]int
	frames    []uint32 // RTP timestamps of complete video frames (marker bit)
	firstNALs []byte   // NAL unit types of the first frame
}

// readTrack depacketizes a received track until it ends.
func (r *received) readTrack(tr *pion.TrackRemote) {
	r.mu.Lock()
	r.codec = tr.Codec().MimeType
	r.nalTypes = map[byte]int{}
	r.mu.Unlock()
	var depack codecs.H264Packet
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.packets++
		if strings.EqualFold(r.codec, pion.MimeTypeH264) {
			if annexB, err := depack.Unmarshal(pkt.Payload); err == nil && len(annexB) > 0 {
				for _, nal := range bytes.Split(annexB, []byte{0, 0, 0, 1}) {
					if len(nal) > 0 {
						r.nalTypes[nal[0]&0x1f]++
						if len(r.frames) == 0 {
							r.firstNALs = append(r.firstNALs, nal[0]&0x1f)
						}
					}
				}
			}
			if pkt.Marker {
				r.frames = append(r.frames, pkt.Timestamp)
			}
		}
		r.mu.Unlock()
	}
}

// startWHEP connects a pion WHEP client to path; video and audio are
// what its tracks received.
func startWHEP(t *testing.T, ts *testServer, path string) (c *pionClient, video, audio *received) {
	t.Helper()
	c = newPionPC(t)
	video, audio = &received{}, &received{}
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := c.pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	c.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() == pion.RTPCodecTypeVideo {
			video.readTrack(tr)
		} else {
			audio.readTrack(tr)
		}
	})
	c.negotiate(t, ts, path)
	return c, video, audio
}

// checkH264 checks what a WHEP client received of an H.264 track: the
// first frame starts with SPS and PPS and is a keyframe, at least
// minFrames frames, and timestamps that only increase.
func checkH264(t *testing.T, v *received, minFrames int) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !strings.EqualFold(v.codec, pion.MimeTypeH264) {
		t.Fatalf("video codec %q, want H264", v.codec)
	}
	if len(v.firstNALs) < 3 || v.firstNALs[0] != 7 || v.firstNALs[1] != 8 || !bytes.Contains(v.firstNALs, []byte{5}) {
		t.Errorf("first frame's NAL unit types %v, want SPS (7), PPS (8) and an IDR picture (5)", v.firstNALs)
	}
	if len(v.frames) < minFrames {
		t.Errorf("%d video frames, want at least %d", len(v.frames), minFrames)
	}
	for i := 1; i < len(v.frames); i++ {
		if int32(v.frames[i]-v.frames[i-1]) <= 0 {
			t.Fatalf("frame %d: RTP timestamp %d after %d", i, v.frames[i], v.frames[i-1])
		}
	}
}

// TestWHEPPionReceivesH264: ffmpeg publishes H.264/AAC over RTMP; a pion
// WHEP client gets an H.264 track whose first frame carries SPS, PPS and
// an IDR picture, and frames with increasing timestamps; the AAC is not
// sent (a log line says so). The session is listed as a "webrtc" client;
// DELETE on its Location ends it.
func TestWHEPPionReceivesH264(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, webrtcLoopback)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/wv")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, "wv")
		return s != nil && s.Info().FramesIn > 0 && s.Info().AudioCodec != ""
	})
	c, video, audio := startWHEP(t, ts, "/live/wv/whep")
	time.Sleep(2 * time.Second)
	checkH264(t, video, 40) // 2 s of 25 fps and the GOP cache
	audio.mu.Lock()
	if audio.packets != 0 {
		t.Errorf("%d audio packets of an AAC stream", audio.packets)
	}
	audio.mu.Unlock()
	if len(ts.logs.FilterMessageSnippet("audio not sent: AAC").All()) != 1 {
		t.Error(`no "audio not sent: AAC …" log line`)
	}
	if len(ts.logs.FilterMessage("playing").FilterField(zapString("proto", "webrtc")).All()) != 1 {
		t.Error(`no "playing" log line for the webrtc client`)
	}
	var st web.StreamInfo
	adminJSON(t, ts, "/api/v1/streams/live/_definst_/wv", &st)
	if st.SubscribersByProtocol["webrtc"] != 1 {
		t.Errorf("admin API stream info: subscribers by protocol %v, want one webrtc", st.SubscribersByProtocol)
	}
	if st := httpDo(t, http.MethodDelete, c.location); st != http.StatusOK {
		t.Fatalf("DELETE %s: %d", c.location, st)
	}
	testtools.WaitFor(t, 5*time.Second, "the session to end", func() bool { return ts.webrtc.Sessions() == 0 })
	if st := httpDo(t, http.MethodDelete, c.location); st != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", st)
	}
}

// sendFLVVideo sends the H.264 of an FLV file's tags on a WHIP track in
// real time, as Annex B access units (parameter sets before keyframes),
// the file loops times over.
func sendFLVVideo(ctx context.Context, track *pion.TrackLocalStaticSample, tags []flvfile.Tag, loops int) error {
	var sps, pps []byte
	start := time.Now()
	var prev uint32
	for i := range loops * len(tags) {
		tg := tags[i%len(tags)]
		tg.Timestamp += uint32(i/len(tags)) * (tags[len(tags)-1].Timestamp + 40)
		if tg.Type != protocol.TypeVideo || len(tg.Data) < 5 || tg.Data[0]&0x0f != 7 {
			continue
		}
		data := tg.Data[5:]
		if tg.Data[1] == 0 { // AVCDecoderConfigurationRecord, one SPS and one PPS
			n := int(binary.BigEndian.Uint16(data[6:]))
			sps = data[8 : 8+n]
			pps = data[8+n+3 : 8+n+3+int(binary.BigEndian.Uint16(data[8+n+1:]))]
			continue
		}
		var au []byte
		if tg.Data[0]>>4 == 1 {
			au = append(append(append(au, 0, 0, 0, 1), sps...), append([]byte{0, 0, 0, 1}, pps...)...)
		}
		for len(data) >= 4 {
			n := int(binary.BigEndian.Uint32(data))
			au = append(append(au, 0, 0, 0, 1), data[4:4+n]...)
			data = data[4+n:]
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(time.Duration(tg.Timestamp) * time.Millisecond))):
		}
		if err := track.WriteSample(pionmedia.Sample{Data: au, Duration: time.Duration(tg.Timestamp-prev) * time.Millisecond}); err != nil {
			return err
		}
		prev = tg.Timestamp
	}
	return nil
}

// sendOgg sends the Opus packets of an Ogg file on a WHIP track in real
// time, 20 ms each.
func sendOgg(ctx context.Context, track *pion.TrackLocalStaticSample, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	ogg, _, err := oggreader.NewWith(f)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		page, _, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.HasPrefix(page, []byte("OpusHead")) || bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := track.WriteSample(pionmedia.Sample{Data: page, Duration: 20 * time.Millisecond}); err != nil {
			return err
		}
	}
}

// TestWHIPPublishPlaysEverywhere: a pion WHIP client publishes the H.264
// of an ffmpeg-made FLV and Opus from an ffmpeg-made Ogg in real time.
// ffmpeg plays the stream over RTMP (ffprobe sees H.264, and the frames
// of 3 s); a pion WHEP client gets the H.264 (SPS, PPS, keyframe,
// increasing timestamps) and the Opus passed through. A viewer and then
// the publisher that close their PeerConnections without DELETE are
// cleaned up, and the stream ends.
func TestWHIPPublishPlaysEverywhere(t *testing.T) {
	src := testFLV(t)
	dir := t.TempDir()
	ogg := filepath.Join(dir, "tone.ogg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := testtools.FFmpeg(t, ctx, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "12",
		"-c:a", "libopus", "-b:a", "48k", "-frame_duration", "20", "-page_duration", "20000", ogg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg opus: %v\n%s", err, out)
	}
	ts := startServer(t, webrtcLoopback)

	pub := newPionPC(t)
	video, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264}, "video", "whip")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus}, "audio", "whip")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []pion.TrackLocal{video, audio} {
		if _, err := pub.pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	pub.negotiate(t, ts, "/live/wp/whip")
	tags := testtools.FLVTags(t, src)
	sent := make(chan error, 2)
	go func() { sent <- sendFLVVideo(ctx, video, tags, 2) }()
	go func() { sent <- sendOgg(ctx, audio, ogg) }()
	testtools.WaitFor(t, 10*time.Second, "the WHIP stream", func() bool {
		s := ts.stream(t, "wp")
		return s != nil && s.Info().VideoCodec == "h264" && s.Info().AudioCodec == "opus"
	})

	// ffmpeg 5.1 knows no Enhanced RTMP audio: it takes the video, once
	// it has given up on finding the audio's parameters.
	out := filepath.Join(dir, "played.flv")
	if b, err := testtools.FFmpeg(t, ctx, "-analyzeduration", "1000000", "-i", ts.url+"/wp", "-t", "3", "-map", "0:v", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg over RTMP: %v\n%s", err, b)
	}
	if c := testtools.FFprobe(t, out).Codec("video"); c != "h264" {
		t.Errorf("ffprobe: video codec %q, want h264", c)
	}
	if n := testtools.Packets(t, out, "video"); n < 60 {
		t.Errorf("ffmpeg got %d video frames over RTMP in 3 s of 25 fps", n)
	}

	viewer, v, a := startWHEP(t, ts, "/live/wp/whep")
	time.Sleep(1500 * time.Millisecond)
	checkH264(t, v, 25)
	a.mu.Lock()
	if !strings.EqualFold(a.codec, pion.MimeTypeOpus) || a.packets < 40 {
		t.Errorf("audio: codec %q, %d packets in 1.5 s; want Opus, 50 a second", a.codec, a.packets)
	}
	a.mu.Unlock()

	// Clients that go without DELETE are cleaned up: the viewer, then
	// the publisher, whose stream ends.
	_ = viewer.pc.Close()
	testtools.WaitFor(t, 15*time.Second, "the viewer's session to end", func() bool { return ts.webrtc.Sessions() == 1 })
	_ = pub.pc.Close()
	testtools.WaitFor(t, 15*time.Second, "the publisher's session to end", func() bool {
		return ts.webrtc.Sessions() == 0 && ts.stream(t, "wp") == nil
	})
	cancel()
	for range 2 {
		if err := <-sent; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("sending: %v", err)
		}
	}
}

// TestWHEPAnswers: what WHEP and WHIP answer short of a session: 400 for
// a malformed SDP offer, 415 for another content type, 404 for a stream
// nobody publishes and an unknown application, 405 for PATCH (no
// trickle ICE) and GET, 404 for DELETE of an unknown session, the CORS
// preflight; past webrtc.max_sessions 503, counted in the refusals.
func TestWHEPAnswers(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, func(cfg *config.Config) {
		webrtcLoopback(cfg)
		cfg.WebRTC.MaxSessions = 1
	})
	offer := func() string {
		c := newPionPC(t)
		if _, err := c.pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		return c.offer(t)
	}()
	for _, tc := range []struct {
		path, contentType, body string
		status                  int
		text                    string
	}{
		{"/live/x/whep", "application/sdp", "this is not SDP", http.StatusBadRequest, "malformed SDP offer"},
		{"/live/x/whip", "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", http.StatusBadRequest, "neither H.264 nor Opus"},
		{"/live/x/whep", "text/plain", offer, http.StatusUnsupportedMediaType, "application/sdp"},
		{"/live/nobody/whep", "application/sdp", offer, http.StatusNotFound, "nobody"},
		{"/nosuchapp/x/whep", "application/sdp", offer, http.StatusNotFound, ""},
	} {
		status, body, _ := postSDP(t, ts.playURL(tc.path), tc.contentType, tc.body)
		if status != tc.status || !strings.Contains(body, tc.text) {
			t.Errorf("POST %s (%s): %d %q, want %d with %q", tc.path, tc.contentType, status, body, tc.status, tc.text)
		}
	}
	resource := ts.playURL("/live/x/whep/0123456789abcdef0123456789abcdef")
	if st := httpDo(t, http.MethodPatch, resource); st != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d, want 405", st)
	}
	if st := httpDo(t, http.MethodDelete, resource); st != http.StatusNotFound {
		t.Errorf("DELETE of an unknown session: %d, want 404", st)
	}
	if st := httpDo(t, http.MethodGet, ts.playURL("/live/x/whep")); st != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", st)
	}
	req, _ := http.NewRequest(http.MethodOptions, ts.playURL("/live/x/whep"), nil)
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// One session (never connected) takes the only slot.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/full")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool { return ts.stream(t, "full") != nil })
	status, body, loc := postSDP(t, ts.playURL("/live/full/whep"), "application/sdp", offer)
	if status != http.StatusCreated {
		t.Fatalf("first session: %d %s", status, body)
	}
	before := ts.admit.Refusals()["webrtc_sessions"]
	if status, body, _ := postSDP(t, ts.playURL("/live/full/whep"), "application/sdp", offer); status != http.StatusServiceUnavailable {
		t.Errorf("second session: %d %s, want 503", status, body)
	}
	if n := ts.admit.Refusals()["webrtc_sessions"]; n != before+1 {
		t.Errorf("webrtc_sessions refusals %d, want %d", n, before+1)
	}
	if st := httpDo(t, http.MethodDelete, ts.playURL(loc)); st != http.StatusOK {
		t.Errorf("DELETE: %d", st)
	}
	testtools.WaitFor(t, 5*time.Second, "the session to end", func() bool { return ts.webrtc.Sessions() == 0 })
}
