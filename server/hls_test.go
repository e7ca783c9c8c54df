package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/web"
)

// publishLoop has ffmpeg publish the shared test file over RTMP in real
// time, looped, as live/name, until the test ends; it returns once the
// stream has frames.
func publishLoop(t *testing.T, ts *testServer, name string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pub := testtools.FFmpeg(t, ctx, "-re", "-stream_loop", "-1", "-i", testFLV(t), "-c", "copy", "-f", "flv", ts.url+"/"+name)
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = pub.Wait() })
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, name)
		return s != nil && s.Info().FramesIn > 0
	})
}

// TestHLSFFmpeg: ffmpeg publishes over RTMP; ffmpeg reads 3 s of the
// stream over LL-HLS (fMP4) and over the MPEG-TS variant; ffprobe finds
// H.264 and AAC, video timestamps that increase and about the frames 3 s
// hold. While they read, the stream counts an HLS viewer, in its info and
// in the admin API; one muxer per variant serves them.
func TestHLSFFmpeg(t *testing.T) {
	ts := startServer(t, nil)
	publishLoop(t, ts, "hl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, path := range []string{"/live/hl/index.m3u8", "/live/hl/ts/index.m3u8"} {
		t.Run(path, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "played.flv")
			var seen sync.WaitGroup
			seen.Add(1)
			counted := make(chan int, 1)
			go func() {
				defer seen.Done()
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if s := ts.stream(t, "hl"); s != nil {
						if n := s.Info().SubscribersByProtocol["hls"]; n > 0 {
							counted <- n
							return
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
				counted <- 0
			}()
			if b, err := testtools.FFmpeg(t, ctx, "-i", ts.playURL(path), "-t", "3", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg over HLS: %v\n%s", err, b)
			}
			seen.Wait()
			if n := <-counted; n != 1 {
				t.Errorf("the stream counted %d HLS viewers while ffmpeg read, want 1", n)
			}
			checkFFmpegPlayed(t, out, 3, 25)
		})
	}
	var st web.StreamInfo
	adminJSON(t, ts, "/api/v1/streams/live/_definst_/hl", &st)
	if st.SubscribersByProtocol["hls"] < 1 {
		t.Errorf("admin API: subscribers by protocol %v, want hls", st.SubscribersByProtocol)
	}
	if n := ts.hls.Muxers(); n != 2 {
		t.Errorf("%d muxers, want one per variant", n)
	}
}

// mediaPlaylist is what a test reads of an LL-HLS media playlist.
type mediaPlaylist struct {
	sequence int      // EXT-X-MEDIA-SEQUENCE
	segments int      // complete segments listed (gaps included)
	pending  []string // parts of the segment being made
	hint     string   // EXT-X-PRELOAD-HINT's URI
	// lastDate is the program date of the last complete segment and
	// lastParts the durations of its parts.
	lastDate  time.Time
	lastParts []float64
	// pendingDate is when the pending segment starts.
	pendingDate time.Time
	text        string
}

func parseMediaPlaylist(t *testing.T, text string) mediaPlaylist {
	t.Helper()
	p := mediaPlaylist{text: text}
	var parts []float64
	var partURIs []string
	var date time.Time
	sc := bufio.NewScanner(strings.NewReader(text))
	var lastDur float64
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			p.sequence, _ = strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"))
		case strings.HasPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"):
			date, _ = time.Parse(time.RFC3339Nano, strings.TrimPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"))
		case strings.HasPrefix(line, "#EXT-X-PART:"):
			d, _ := strconv.ParseFloat(attr(line, "DURATION"), 64)
			parts = append(parts, d)
			partURIs = append(partURIs, attr(line, "URI"))
		case strings.HasPrefix(line, "#EXTINF:"):
			p.segments++
			lastDur, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(line, "#EXTINF:"), ","), 64)
			p.lastDate, p.lastParts = date, parts
			if !date.IsZero() {
				p.pendingDate = date.Add(time.Duration(lastDur * float64(time.Second)))
			}
			parts, partURIs, date = nil, nil, time.Time{}
		case strings.HasPrefix(line, "#EXT-X-PRELOAD-HINT:"):
			p.hint = attr(line, "URI")
		}
	}
	p.pending = partURIs
	return p
}

// attr returns the value of an attribute of a playlist tag.
func attr(line, name string) string {
	i := strings.Index(line, name+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(name)+1:]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		return v[:strings.IndexByte(v, '"')]
	}
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	return v
}

// getBody GETs u and returns the status and body.
func getBody(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestHLSLowLatency: an LL-HLS player's requests at the HTTP level. The
// multivariant playlist hands out a session that every listed URI
// carries; the media playlist has parts, a preload hint and blocking
// reloads; a reload that asks for the next part (_HLS_msn, _HLS_part)
// returns once it exists, and the preload hint's part is fetched as soon
// as it is complete. Requests without the session are refused, an unknown
// file is 404. The delay from a part's last frame reaching the server
// (the publisher sends in real time) to the part being fetchable is
// measured over ~30 parts; its p95 must stay under a second.
func TestHLSLowLatency(t *testing.T) {
	ts := startServer(t, nil)
	publishLoop(t, ts, "ll")
	c := &http.Client{Timeout: 10 * time.Second}
	base := ts.playURL("/live/ll/")

	status, index, h := getBody(t, c, base+"index.m3u8")
	if status != http.StatusOK || h.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("index.m3u8: %d %v\n%s", status, h, index)
	}
	var media string
	for _, line := range strings.Split(index, "\n") {
		if !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != "" {
			media = strings.TrimSpace(line)
			break
		}
	}
	mu, err := url.Parse(media)
	if err != nil || !strings.HasSuffix(mu.Path, ".m3u8") || mu.Query().Get("hls_session") == "" {
		t.Fatalf("index.m3u8 lists %q: want a media playlist with the session\n%s", media, index)
	}
	status, text, _ := getBody(t, c, base+media)
	if status != http.StatusOK {
		t.Fatalf("%s: %d %s", media, status, text)
	}
	for _, tag := range []string{"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES", "#EXT-X-PART-INF:PART-TARGET=", "#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:", "#EXT-X-MAP:"} {
		if !strings.Contains(text, tag) {
			t.Errorf("the media playlist has no %s\n%s", tag, text)
		}
	}
	pl := parseMediaPlaylist(t, text)
	if !strings.Contains(pl.hint, "hls_session=") {
		t.Errorf("preload hint %q does not carry the session", pl.hint)
	}

	// Without the session: 403; an unknown name: 404.
	if status, body, _ := getBody(t, c, base+strings.SplitN(pl.hint, "?", 2)[0]); status != http.StatusForbidden {
		t.Errorf("a part without the session: %d %s, want 403", status, body)
	}
	if status, body, _ := getBody(t, c, base+"nothing_seg1.mp4?"+mu.RawQuery); status != http.StatusNotFound {
		t.Errorf("an unknown file: %d %s, want 404", status, body)
	}

	// The preload hint's part: the request waits for it to be complete.
	status, body, h := getBody(t, c, base+pl.hint)
	if status != http.StatusOK || h.Get("Content-Type") != "video/mp4" || len(body) < 100 || body[4:8] != "moof" {
		t.Errorf("the preload hint's part: %d %v, %d bytes", status, h, len(body))
	}

	// Blocking reloads, part after part.
	var firsts, lasts []time.Duration
	q := mu.Query()
	for range 30 {
		msn, part := pl.sequence+pl.segments, len(pl.pending)
		q.Set("_HLS_msn", strconv.Itoa(msn))
		q.Set("_HLS_part", strconv.Itoa(part))
		start := time.Now()
		status, text, _ := getBody(t, c, base+mu.Path[strings.LastIndexByte(mu.Path, '/')+1:]+"?"+q.Encode())
		got := time.Now()
		if status != http.StatusOK {
			t.Fatalf("blocking reload msn %d part %d: %d %s", msn, part, status, text)
		}
		if d := got.Sub(start); d > 3*time.Second {
			t.Errorf("blocking reload msn %d part %d took %v", msn, part, d)
		}
		next := parseMediaPlaylist(t, text)
		switch {
		case next.sequence+next.segments == msn && len(next.pending) > part:
			// The part asked for is the pending segment's.
			if !next.pendingDate.IsZero() {
				// The part's media, in the wall time of the
				// program dates (when its frames reached the
				// server), is [start, end).
				start, end := next.pendingDate, next.pendingDate
				for i, d := range next.pendingParts(t) {
					start = end
					end = end.Add(time.Duration(d * float64(time.Second)))
					if i == part {
						break
					}
				}
				firsts = append(firsts, got.Sub(start))
				lasts = append(lasts, got.Sub(end))
			}
		case next.sequence+next.segments > msn:
			// The segment closed: the part asked for is its last or
			// the next one's first.
		default:
			t.Fatalf("blocking reload msn %d part %d returned a playlist without it:\n%s", msn, part, text)
		}
		pl = next
	}
	if len(firsts) < 10 {
		t.Fatalf("only %d parts measured", len(firsts))
	}
	slices.Sort(firsts)
	slices.Sort(lasts)
	p95 := func(ds []time.Duration) time.Duration { return ds[len(ds)*95/100] }
	t.Logf("a part is fetchable after its first frame reached the server: p50 %v, p95 %v; after its last: p50 %v, p95 %v (%d parts)",
		firsts[len(firsts)/2], p95(firsts), lasts[len(lasts)/2], p95(lasts), len(firsts))
	if p95(firsts) > time.Second {
		t.Errorf("part latency p95 %v, want under 1 s", p95(firsts))
	}
	if lasts[0] < -50*time.Millisecond {
		t.Errorf("a part was fetchable %v before its last frame reached the server: the program dates are off", -lasts[0])
	}
}

// pendingParts returns the durations of the pending segment's parts.
func (p mediaPlaylist) pendingParts(t *testing.T) []float64 {
	var ds []float64
	after := strings.LastIndex(p.text, "#EXTINF:")
	for _, line := range strings.Split(p.text[after:], "\n") {
		if strings.HasPrefix(line, "#EXT-X-PART:") {
			d, _ := strconv.ParseFloat(attr(line, "DURATION"), 64)
			ds = append(ds, d)
		}
	}
	return ds
}

// TestHLSUnknownStreams: requests for streams nobody publishes, of
// applications that do not exist, and paths that are not HLS get 404 at
// once, and 10,000 of them make no muxer and leave no goroutine.
func TestHLSUnknownStreams(t *testing.T) {
	ts := startServer(t, nil)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer c.CloseIdleConnections()
	for _, p := range []string{"/live/nobody/index.m3u8", "/live/nobody/ts/index.m3u8", "/live/room/nobody/index.m3u8",
		"/noapp/cam/index.m3u8", "/live/nobody/video1_stream.m3u8", "/live/cam/index.html", "/live/index.m3u8"} {
		if status, body, _ := getBody(t, c, ts.playURL(p)); status != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404", p, status, body)
		}
	}
	c.CloseIdleConnections()
	settle := func() int {
		// The client's connections, and their goroutines on both
		// sides, go once closed.
		n := runtime.NumGoroutine()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				break
			}
			n = m
		}
		return n
	}
	before := settle()
	start := time.Now()
	var wg sync.WaitGroup
	var failed sync.Once
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1250 {
				p := fmt.Sprintf("/live/none%d-%d/index.m3u8", w, i)
				if i%2 == 1 {
					p = fmt.Sprintf("/live/none%d-%d/ts/index.m3u8", w, i)
				}
				resp, err := c.Get(ts.playURL(p))
				if err != nil {
					failed.Do(func() { t.Errorf("GET %s: %v", p, err) })
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					failed.Do(func() { t.Errorf("GET %s: %d, want 404", p, resp.StatusCode) })
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("10,000 requests for unknown streams in %v", time.Since(start))
	if n := ts.hls.Muxers(); n != 0 {
		t.Errorf("%d muxers after requests for unknown streams", n)
	}
	c.CloseIdleConnections()
	var after int
	testtools.WaitFor(t, 5*time.Second, "the goroutines to settle", func() bool {
		after = runtime.NumGoroutine()
		return after <= before
	})
	t.Logf("goroutines before %d, after %d", before, after)
}

// TestHLSAuthorization: on an application whose plays need a token,
// index.m3u8 without one, or with a forged one, gets 403 (the same check
// as an RTMP play, with a client whose protocol is "hls"); with a valid
// token it plays, and the session it gets is good for that stream only.
func TestHLSAuthorization(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Apps = append(c.Apps, config.AppConfig{Name: "tok", TokenSecret: "s3cret", TokenPlay: true})
	})
	ctx, cancel := context.WithCancel(context.Background())
	pub := testtools.FFmpeg(t, ctx, "-re", "-stream_loop", "-1", "-i", testFLV(t), "-c", "copy", "-f", "flv",
		"rtmp://"+ts.RTMPAddr().String()+"/tok/cam")
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pub.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		inst, err := ts.Apps().Resolve("tok", "")
		if err != nil {
			return false
		}
		s := inst.Streams().Get("cam")
		return s != nil && s.Info().FramesIn > 0
	})
	c := &http.Client{Timeout: 20 * time.Second}
	good := strings.SplitN(auth.SignedName("s3cret", "tok", "cam", time.Now().Add(time.Hour)), "?", 2)[1]
	forged := strings.SplitN(auth.SignedName("other", "tok", "cam", time.Now().Add(time.Hour)), "?", 2)[1]
	for _, q := range []string{"", "?" + forged} {
		if status, body, _ := getBody(t, c, ts.playURL("/tok/cam/index.m3u8"+q)); status != http.StatusForbidden {
			t.Errorf("index.m3u8%s: %d %s, want 403", q, status, body)
		}
	}
	if n := ts.hls.Muxers(); n != 0 {
		t.Errorf("%d muxers after refused players", n)
	}
	status, index, _ := getBody(t, c, ts.playURL("/tok/cam/index.m3u8?"+good))
	if status != http.StatusOK || !strings.Contains(index, "hls_session=") {
		t.Fatalf("with a valid token: %d\n%s", status, index)
	}
	if n := len(ts.logs.FilterMessage("player refused").FilterField(zapString("proto", "hls")).FilterField(zapInt("status", 403)).All()); n != 2 {
		t.Errorf("%d 'player refused' lines with status 403 for hls clients, want 2", n)
	}
	var media string
	for _, line := range strings.Split(index, "\n") {
		if strings.Contains(line, "hls_session=") && !strings.HasPrefix(line, "#") {
			media = strings.TrimSpace(line)
		}
	}
	if status, body, _ := getBody(t, c, ts.playURL("/tok/cam/"+media)); status != http.StatusOK {
		t.Errorf("the media playlist with the session: %d %s", status, body)
	}
	// The session names its stream: it opens nothing else.
	publishLoop(t, ts, "other")
	if status, body, _ := getBody(t, c, ts.playURL("/live/other/"+media)); status != http.StatusForbidden {
		t.Errorf("another stream's playlist with this session: %d %s, want 403", status, body)
	}
}

// TestHLSIdleAndUnpublish: a muxer stops when nobody has asked for
// hls_idle, and when its publisher leaves; the stream then counts no HLS
// subscriber.
func TestHLSIdleAndUnpublish(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Play.HLSIdle = config.Duration{Duration: time.Second} })
	publishLoop(t, ts, "idle")
	c := &http.Client{Timeout: 20 * time.Second}
	if status, body, _ := getBody(t, c, ts.playURL("/live/idle/ts/index.m3u8")); status != http.StatusOK {
		t.Fatalf("index.m3u8: %d %s", status, body)
	}
	if n := ts.hls.Muxers(); n != 1 {
		t.Fatalf("%d muxers, want 1", n)
	}
	testtools.WaitFor(t, 5*time.Second, "the idle muxer to stop", func() bool { return ts.hls.Muxers() == 0 })
	if by := ts.stream(t, "idle").Info().SubscribersByProtocol; by["hls"] != 0 {
		t.Errorf("subscribers by protocol %v after the muxer stopped", by)
	}
	if len(ts.logs.FilterMessage("hls muxer stopped").FilterField(zapString("reason", "hls: no request for a while")).All()) != 1 {
		t.Error("no 'hls muxer stopped' line for the idle muxer")
	}
}

// TestHLSFlashLike: the Flash-like client publishes over RTMFP; ffmpeg
// reads the stream over LL-HLS.
func TestHLSFlashLike(t *testing.T) {
	testtools.FlashLike(t) // build (or skip) before the server runs
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clip := testtools.ClipFLV(t, t.TempDir(), 2, 25)
	pub := testtools.StartFlashPeer(t, ctx, "flash publisher", "publish", ts.mfp, "--stream=fl", "--flv="+clip, "--secs=14")
	pub.WaitEvent(t, "STATUS NetStream.Publish.Start", 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // the loop's second pass has sent the codec headers (see cmd/nimbus flashClip)
	out := filepath.Join(t.TempDir(), "played.flv")
	if b, err := testtools.FFmpeg(t, ctx, "-i", ts.playURL("/live/fl/index.m3u8"), "-t", "3", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg over HLS: %v\n%s", err, b)
	}
	checkFFmpegPlayed(t, out, 3, 25)
	pub.Kill()
}

// TestHLSChromium: headless Chromium (which plays HLS in a <video>
// natively since version 141, fMP4 segments only in Debian's build: its
// MPEG-TS segments fail to parse) opens a page, served by the test on
// another origin, whose <video> plays the fMP4 playlist; the page
// reports the element's currentTime, which must advance by more than
// 2 s within 4 s of playing.
func TestHLSChromium(t *testing.T) {
	chromium := testtools.Require(t, "chromium")
	ts := startServer(t, nil)
	publishLoop(t, ts, "web")
	{
		// Chromium's player does not skip the EXT-X-GAP segments at
		// the head of a new LL-HLS playlist (gohlslib puts 7 there for
		// iOS): it fails on the first. A player that comes once the
		// muxer has made its segments plays, as the test's does.
		c := &http.Client{Timeout: 20 * time.Second}
		_, index, _ := getBody(t, c, ts.playURL("/live/web/index.m3u8"))
		var media string
		for _, line := range strings.Split(index, "\n") {
			if strings.Contains(line, "hls_session=") && !strings.HasPrefix(line, "#") {
				media = strings.TrimSpace(line)
			}
		}
		testtools.WaitFor(t, 40*time.Second, "the gaps to leave the playlist", func() bool {
			_, text, _ := getBody(t, c, ts.playURL("/live/web/"+media))
			return !strings.Contains(text, "GAP")
		})
	}

	type report struct {
		at time.Time
		ct float64
	}
	reports := make(chan report, 64)
	page := `<!doctype html><video id=v muted autoplay playsinline src="` + ts.playURL("/live/web/index.m3u8") + `"></video>
<script>
const v = document.getElementById('v');
setInterval(() => fetch('/report?ct=' + v.currentTime + '&err=' + (v.error ? v.error.code + encodeURIComponent(' ' + v.error.message) : 0)), 250);
</script>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/report" {
			ct, _ := strconv.ParseFloat(r.URL.Query().Get("ct"), 64)
			if e := r.URL.Query().Get("err"); e != "0" {
				t.Errorf("the video element's error code %s", e)
			}
			select {
			case reports <- report{time.Now(), ct}:
			default:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	}))
	defer site.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio",
		"--autoplay-policy=no-user-gesture-required", "--user-data-dir="+t.TempDir(), site.URL)
	var log testtools.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	var first *report
	deadline := time.After(30 * time.Second)
	for {
		select {
		case r := <-reports:
			if r.ct <= 0 {
				continue
			}
			if first == nil {
				first = &r
				continue
			}
			if r.ct-first.ct > 2 {
				played := r.at.Sub(first.at)
				t.Logf("currentTime %.2f → %.2f s in %v", first.ct, r.ct, played)
				if played > 4*time.Second {
					t.Errorf("currentTime advanced 2 s in %v, want under 4 s", played)
				}
				return
			}
		case <-deadline:
			if first == nil {
				t.Fatalf("the video never played (%d muxers)\n%s", ts.hls.Muxers(), log.String())
			}
			t.Fatalf("currentTime %.2f s at first, not 2 s further in 30 s", first.ct)
		}
	}
}
