package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/web"
)

// playURL is the playback listener's URL for path.
func (ts *testServer) playURL(path string) string {
	return "http://" + ts.PlayAddr().String() + path
}

// httpGet fetches url with a client that gives up after 5 s.
func httpGet(t *testing.T, url string) *http.Response {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// flvTag is one tag a test player read.
type flvTag struct {
	typ     protocol.Type
	ts      uint32
	payload []byte
}

// readFLVTags reads an FLV header and then n tags from r.
func readFLVTags(t *testing.T, r io.Reader, n int) (flags byte, tags []flvTag) {
	t.Helper()
	br := bufio.NewReader(r)
	hdr := make([]byte, 13)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatalf("FLV header: %v", err)
	}
	if string(hdr[:3]) != "FLV" || hdr[3] != 1 || binary.BigEndian.Uint32(hdr[5:9]) != 9 || binary.BigEndian.Uint32(hdr[9:]) != 0 {
		t.Fatalf("FLV header % x", hdr)
	}
	for range n {
		th := make([]byte, 11)
		if _, err := io.ReadFull(br, th); err != nil {
			t.Fatalf("tag %d header: %v", len(tags), err)
		}
		size := int(th[1])<<16 | int(th[2])<<8 | int(th[3])
		body := make([]byte, size+4)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatalf("tag %d body: %v", len(tags), err)
		}
		if prev := binary.BigEndian.Uint32(body[size:]); prev != uint32(11+size) {
			t.Fatalf("tag %d: previous tag size %d, want %d", len(tags), prev, 11+size)
		}
		ts := uint32(th[4])<<16 | uint32(th[5])<<8 | uint32(th[6]) | uint32(th[7])<<24
		tags = append(tags, flvTag{protocol.Type(th[0]), ts, body[:size]})
	}
	return hdr[4], tags
}

// wsFLV reads a WebSocket-FLV stream as one byte stream, checking that each
// binary message holds the FLV header or exactly one tag.
type wsFLV struct {
	t     *testing.T
	c     *websocket.Conn
	buf   []byte
	first bool
}

func (w *wsFLV) Read(p []byte) (int, error) {
	for len(w.buf) == 0 {
		typ, msg, err := w.c.ReadMessage()
		if err != nil {
			return 0, err
		}
		if typ != websocket.BinaryMessage {
			w.t.Errorf("message type %d, want binary", typ)
		}
		switch {
		case !w.first:
			w.first = true
			if len(msg) != 13 {
				w.t.Errorf("first message is %d bytes, want the 13-byte FLV header", len(msg))
			}
		case len(msg) < 15 || len(msg) != 11+(int(msg[1])<<16|int(msg[2])<<8|int(msg[3]))+4:
			w.t.Errorf("a message of %d bytes is not one tag", len(msg))
		}
		w.buf = msg
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}

// adminJSON fetches an admin API path into v.
func adminJSON(t *testing.T, ts *testServer, path string, v any) {
	t.Helper()
	resp := httpGet(t, "http://"+ts.HTTPAddr().String()+path)
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestHTTPFLVFFmpeg: ffmpeg publishes over RTMP in real time; ffmpeg reads
// the stream over HTTP-FLV for 3 s; ffprobe finds H.264 and AAC, video
// timestamps that increase, and about the frames 3 s hold.
func TestHTTPFLVFFmpeg(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/hf")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, "hf")
		return s != nil && s.Info().FramesIn > 0
	})
	out := filepath.Join(t.TempDir(), "played.flv")
	if b, err := testtools.FFmpeg(t, ctx, "-i", ts.playURL("/live/hf.flv"), "-t", "3", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg over HTTP-FLV: %v\n%s", err, b)
	}
	checkFFmpegPlayed(t, out, 3, 25)
	if len(ts.logs.FilterMessage("playing").FilterField(zapString("proto", "http-flv")).All()) != 1 {
		t.Error(`no "playing" log line for the http-flv client`)
	}
}

// checkFFmpegPlayed checks what ffmpeg recorded of secs seconds of an
// H.264/AAC stream at fps: both codecs, at least 80 % of the video
// frames, and video decoding timestamps that only increase.
func checkFFmpegPlayed(t *testing.T, file string, secs, fps int) {
	t.Helper()
	p := testtools.FFprobe(t, file)
	if p.Codec("video") != "h264" || p.Codec("audio") != "aac" {
		t.Errorf("recording has video %q, audio %q; want h264 and aac", p.Codec("video"), p.Codec("audio"))
	}
	if n := testtools.Packets(t, file, "video"); n < secs*fps*8/10 {
		t.Errorf("%d video frames in %d s of a %d fps stream", n, secs, fps)
	}
	b, err := exec.Command(testtools.Require(t, "ffprobe"), "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=dts_time", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_entries packet=dts_time: %v", err)
	}
	last := -1.0
	for _, line := range strings.Fields(string(b)) {
		dts, err := strconv.ParseFloat(strings.TrimSuffix(line, ","), 64)
		if err != nil {
			continue
		}
		if dts <= last {
			t.Fatalf("video dts %.3f after %.3f", dts, last)
		}
		last = dts
	}
	if last < float64(secs)*0.8 {
		t.Errorf("last video dts %.3f s, want about %d s", last, secs)
	}
}

// TestHTTPFLVAnswers: what the playback listener answers short of
// playing: 404 at once for a stream nobody publishes, an unknown
// application and a path that names no stream; the CORS preflight; 405
// for other methods. Each refused player is one close log line.
func TestHTTPFLVAnswers(t *testing.T) {
	ts := startServer(t, nil)
	start := time.Now()
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/live/nobody.flv", http.StatusNotFound},
		{"/live/room/nobody.flv", http.StatusNotFound},
		{"/noapp/cam.flv", http.StatusNotFound},
		{"/live/cam.mp4", http.StatusNotFound}, // /live/cam is the player page
		{"/", http.StatusNotFound},
	} {
		resp := httpGet(t, ts.playURL(tc.path))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
		}
		if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q", tc.path, o)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the 404s took %v", d)
	}
	if n := len(ts.logs.FilterMessage("closed").FilterField(zapInt("status", 404)).All()); n != 3 {
		t.Errorf("%d close lines with status 404, want 3 (the players refused)", n)
	}

	req, _ := http.NewRequest(http.MethodOptions, ts.playURL("/live/cam.flv"), nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") || resp.Header.Get("Access-Control-Allow-Headers") != "range" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Post(ts.playURL("/live/cam.flv"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// TestHTTPFLVToken: on an application whose plays need a token, a player
// without one or with a forged one gets 403, over HTTP and WebSocket;
// with a valid token in the URL's query it plays.
func TestHTTPFLVToken(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Apps = append(c.Apps, config.AppConfig{Name: "tok", TokenSecret: "s3cret", TokenPlay: true})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, err := rtmp.Dial(ctx, "rtmp://"+ts.RTMPAddr().String()+"/tok", rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pid, err := pub.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(pid, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, pub, pid, protocol.TypeVideo, 0, avcFrame(true, 0, 500))

	good := auth.SignedName("s3cret", "tok", "cam", time.Now().Add(time.Hour))
	forged := auth.SignedName("other", "tok", "cam", time.Now().Add(time.Hour))
	for _, q := range []string{"", "?" + strings.SplitN(forged, "?", 2)[1]} {
		resp := httpGet(t, ts.playURL("/tok/cam.flv"+q))
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /tok/cam.flv%s: %d, want 403", q, resp.StatusCode)
		}
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.PlayAddr().String()+"/tok/cam.flv"+q, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("WebSocket /tok/cam.flv%s: %v, want 403", q, err)
		}
	}
	resp := httpGet(t, ts.playURL("/tok/cam.flv?"+strings.SplitN(good, "?", 2)[1]))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("with a valid token: %d %v", resp.StatusCode, resp.Header)
	}
	flags, tags := readFLVTags(t, resp.Body, 2)
	if flags != 1 || !bytes.Equal(tags[0].payload, avcSeqHeader()) || tags[1].typ != protocol.TypeVideo {
		t.Errorf("flags %x, tags %+v: want video only, the sequence header, the keyframe", flags, tags)
	}
}

// TestWSFLVGoClient: a player joins over HTTP-FLV and another over
// WebSocket-FLV (our gorilla client) mid-stream: each gets the FLV header
// with both flags, the metadata, both sequence headers and the GOP from
// its keyframe, then live frames, byte for byte, with timestamps from 0
// that keep the publisher's spacing. The stream's info counts them per
// protocol and the admin API lists them as clients.
func TestWSFLVGoClient(t *testing.T) {
	ts := startServer(t, nil)
	pub, pid := startPublishing(t, ts, "mix", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeDataAMF0, 0, metadata(t))
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, pub, pid, protocol.TypeAudio, 0, aacSeqHeader())
	send(t, pub, pid, protocol.TypeVideo, 4000, avcFrame(false, 0, 300)) // before the GOP: not replayed
	send(t, pub, pid, protocol.TypeVideo, 5000, avcFrame(true, 1, 2000))
	send(t, pub, pid, protocol.TypeAudio, 5010, aacFrame(1))
	// The players must join the GOP the server has cached, not a stream
	// still catching up with what was sent.
	testtools.WaitFor(t, 5*time.Second, "the server to take the publisher's frames", func() bool {
		return ts.stream(t, "mix").Info().FramesIn == 6
	})

	resp := httpGet(t, ts.playURL("/live/mix.flv"))
	defer resp.Body.Close()
	ws, wresp, err := websocket.DefaultDialer.Dial("ws://"+ts.PlayAddr().String()+"/live/mix.flv", nil)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, wresp)
	}
	defer ws.Close()
	testtools.WaitFor(t, 5*time.Second, "both players", func() bool {
		by := ts.stream(t, "mix").Info().SubscribersByProtocol
		return by["http-flv"] == 1 && by["ws-flv"] == 1
	})
	send(t, pub, pid, protocol.TypeVideo, 5040, avcFrame(false, 2, 700))
	send(t, pub, pid, protocol.TypeAudio, 5033, aacFrame(2)) // interleaved a little early
	send(t, pub, pid, protocol.TypeVideo, 5080, avcFrame(false, 3, 70000))

	want := []flvTag{
		{protocol.TypeDataAMF0, 0, nil},
		{protocol.TypeVideo, 0, avcSeqHeader()},
		{protocol.TypeAudio, 0, aacSeqHeader()},
		{protocol.TypeVideo, 0, avcFrame(true, 1, 2000)},
		{protocol.TypeAudio, 10, aacFrame(1)},
		{protocol.TypeVideo, 40, avcFrame(false, 2, 700)},
		{protocol.TypeAudio, 40, aacFrame(2)},
		{protocol.TypeVideo, 80, avcFrame(false, 3, 70000)},
	}
	for name, r := range map[string]io.Reader{"http-flv": resp.Body, "ws-flv": &wsFLV{t: t, c: ws}} {
		if name == "ws-flv" {
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		}
		flags, tags := readFLVTags(t, r, len(want))
		if flags != 5 {
			t.Errorf("%s: header flags %x, want 5 (audio and video)", name, flags)
		}
		for i, w := range want {
			g := tags[i]
			if g.typ != w.typ || g.ts != w.ts || (w.payload != nil && !bytes.Equal(g.payload, w.payload)) {
				t.Errorf("%s: tag %d: type %v at %d (%d bytes), want type %v at %d", name, i, g.typ, g.ts, len(g.payload), w.typ, w.ts)
			}
		}
		if !bytes.Contains(tags[0].payload, []byte("onMetaData")) {
			t.Errorf("%s: first tag is not onMetaData", name)
		}
	}

	var st web.StreamInfo
	adminJSON(t, ts, "/api/v1/streams/live/_definst_/mix", &st)
	if st.SubscribersByProtocol["http-flv"] != 1 || st.SubscribersByProtocol["ws-flv"] != 1 {
		t.Errorf("admin API stream info: subscribers by protocol %v", st.SubscribersByProtocol)
	}
	var clients []web.ClientInfo
	adminJSON(t, ts, "/api/v1/clients", &clients)
	seen := map[string]bool{}
	for _, c := range clients {
		seen[c.Protocol] = true
	}
	if !seen["http-flv"] || !seen["ws-flv"] || !seen["rtmp"] {
		t.Errorf("admin API clients %+v: want rtmp, http-flv and ws-flv", clients)
	}

	// The publisher leaves: both responses end.
	_ = pub.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("http-flv after unpublish: %v", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Errorf("ws-flv after unpublish: %v, want a normal close", err)
			}
			break
		}
	}
}

// TestHTTPFLVStalledPlayers: an HTTP-FLV and a WebSocket-FLV player never
// read; an RTMP player of the same stream still gets every frame, and the
// stalled ones are dropped once behind past their bound.
func TestHTTPFLVStalledPlayers(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Media.SubscriberQueueBytes = 256 << 10
		c.Media.SubscriberMaxLag = config.Duration{Duration: 500 * time.Millisecond}
		c.Play.WriteTimeout = config.Duration{Duration: 2 * time.Second}
	})
	pub, pid := startPublishing(t, ts, "fan", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := net.Dialer{Control: smallReceiveBuffer}
	stalled, err := d.DialContext(ctx, "tcp", ts.PlayAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := fmt.Fprintf(stalled, "GET /live/fan.flv HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	wsd := websocket.Dialer{NetDialContext: d.DialContext}
	stalledWS, _, err := wsd.DialContext(ctx, "ws://"+ts.PlayAddr().String()+"/live/fan.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalledWS.Close()
	testtools.WaitFor(t, 5*time.Second, "the stalled players", func() bool {
		by := ts.stream(t, "fan").Info().SubscribersByProtocol
		return by["http-flv"] == 1 && by["ws-flv"] == 1
	})

	playsPastStalled(t, ts, pub, pid, "fan", "RTMP player")
	testtools.WaitFor(t, 5*time.Second, "the stalled players to be dropped", func() bool {
		return ts.stream(t, "fan").Info().Subscribers == 1
	})
	if n := len(ts.logs.FilterMessage("slow subscriber dropped").All()); n != 2 {
		t.Errorf(`%d "slow subscriber dropped" lines, want 2`, n)
	}
	if ts.admit.Refusals()["subscriber_queue"] != 2 {
		t.Errorf("refusals %v: want 2 subscriber_queue", ts.admit.Refusals())
	}
}

// TestHTTPFLVAdmission: the playback listener's connections count against
// the connection limits as RTMP's do: past the per-IP limit a connection
// is closed at once and the refusal counted.
func TestHTTPFLVAdmission(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 1 })
	first, err := net.Dial("tcp", ts.PlayAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testtools.WaitFor(t, 5*time.Second, "the first connection", func() bool { return ts.admit.Connections() == 1 })
	second, err := net.Dial("tcp", ts.PlayAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("second connection: read %v, want EOF (closed)", err)
	}
	if n := ts.admit.Refusals()["max_connections_per_ip"]; n != 1 {
		t.Errorf("%d max_connections_per_ip refusals, want 1", n)
	}
	_ = first.Close()
	testtools.WaitFor(t, 5*time.Second, "the slot to be released", func() bool { return ts.admit.Connections() == 0 })
}

// TestHTTPFLVOverTLS: with a certificate the playback listener serves
// HTTPS (the tags then go out in one copied write per batch, not a
// vectored one) and wss://.
func TestHTTPFLVOverTLS(t *testing.T) {
	cert, key := testtools.SelfSigned(t, t.TempDir())
	ts := startServer(t, func(c *config.Config) { c.Play.CertFile, c.Play.KeyFile = cert, key })
	pub, pid := startPublishing(t, ts, "sec", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, pub, pid, protocol.TypeVideo, 100, avcFrame(true, 0, 20000))

	tlsCfg := &tls.Config{InsecureSkipVerify: true}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := client.Get("https://" + ts.PlayAddr().String() + "/live/sec.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ws, _, err := (&websocket.Dialer{TLSClientConfig: tlsCfg}).Dial("wss://"+ts.PlayAddr().String()+"/live/sec.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for name, r := range map[string]io.Reader{"https": resp.Body, "wss": &wsFLV{t: t, c: ws}} {
		_, tags := readFLVTags(t, r, 2)
		if !bytes.Equal(tags[0].payload, avcSeqHeader()) || !bytes.Equal(tags[1].payload, avcFrame(true, 0, 20000)) || tags[1].ts != 0 {
			t.Errorf("%s: tags %+v", name, tags)
		}
	}
}
