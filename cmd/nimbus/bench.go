package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// benchResult is what `nimbus bench` prints, with the field names of the
// project's RTMP relay benchmark so that runs compare directly.
type benchResult struct {
	Label                string  `json:"label"`
	URL                  string  `json:"url"`
	PlayersRequested     int     `json:"players_requested"`
	PlayersConnected     int64   `json:"players_connected"`
	PlayersKeptUp        int     `json:"players_kept_up"`
	PlayersFailed        int64   `json:"players_failed"`
	PlayersDropped       int64   `json:"players_dropped"`
	StartP50ms           float64 `json:"start_p50_ms"`
	StartP95ms           float64 `json:"start_p95_ms"`
	LatencyP50ms         float64 `json:"latency_p50_ms"`
	LatencyP95ms         float64 `json:"latency_p95_ms"`
	LatencyP99ms         float64 `json:"latency_p99_ms"`
	LatencySamples       int     `json:"latency_samples"`
	BytesReceivedTotal   int64   `json:"bytes_received_total"`
	PerPlayerKbpsP50     float64 `json:"per_player_kbps_p50"`
	DeliveredMbps        float64 `json:"delivered_mbps"`
	PublishedKbps        float64 `json:"published_kbps"`
	ServerCPUPct         float64 `json:"server_cpu_pct,omitempty"`
	ServerRSSkbMax       int64   `json:"server_rss_kb_max,omitempty"`
	CPUPctPer100Players  float64 `json:"cpu_pct_per_100_players,omitempty"`
	DeliveredMbpsPerCore float64 `json:"delivered_mbps_per_core,omitempty"`
	FirstError           string  `json:"first_error,omitempty"`
	DurationS            float64 `json:"duration_s"`
	WarmupS              float64 `json:"warmup_s"`
	RampPerS             int     `json:"ramp_per_s"`
}

// bench runs a publisher and N players against a server and reports what a
// deployment needs to know: whether every player keeps up, start-up time,
// latency, and (with -server-pid) the server's CPU and memory per player.
func bench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	playURL := fs.String("url", "", "stream URL the players play (rtmp://, rtmpe://, rtmpt://, rtmfp://, http(s)://HOST/APP/STREAM.flv for HTTP-FLV, or http(s)://HOST/APP/STREAM/whep for WebRTC viewers)")
	pubURL := fs.String("publish-url", "", "stream URL the publisher uses (default: -url)")
	flv := fs.String("flv", "", "FLV file to publish in a loop (default: synthetic 2 Mbit/s frames)")
	players := fs.Int("players", 100, "number of players")
	ramp := fs.Int("ramp", 200, "players started per second (0: all at once)")
	warmup := fs.Duration("warmup", 5*time.Second, "time after the ramp before measuring")
	duration := fs.Duration("duration", 20*time.Second, "measurement window")
	pid := fs.Int("server-pid", 0, "sample this process's CPU and memory during the window")
	label := fs.String("label", "nimbus", "label in the JSON output")
	noPublish := fs.Bool("no-publish", false, "do not publish: the stream is already live")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *playURL == "" || *players < 0 {
		return errors.New("usage: nimbus bench -url rtmp[e|t|fp]://host/app/stream|http://host/app/stream.flv|http://host/app/stream/whep [-publish-url URL] [-players N] [-flv FILE] [-duration 20s]")
	}
	httpFLV := strings.HasPrefix(*playURL, "http://") || strings.HasPrefix(*playURL, "https://")
	if *pubURL == "" {
		if httpFLV && !*noPublish {
			return errors.New("bench: an HTTP-FLV -url needs -publish-url (rtmp://…) for the publisher")
		}
		*pubURL = *playURL
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var published atomic.Int64
	pubErr := make(chan error, 1)
	if !*noPublish {
		go func() { pubErr <- benchPublish(ctx, *pubURL, *flv, &published) }()
		time.Sleep(time.Second)
	}

	var (
		mu        sync.Mutex
		starts    []float64
		latencies []float64
		connected atomic.Int64
		failed    atomic.Int64
		dropped   atomic.Int64
		firstErr  atomic.Value
		measuring atomic.Bool
		wg        sync.WaitGroup
	)
	counts := make([]atomic.Int64, *players)
	for i := range *players {
		if *ramp > 0 {
			time.Sleep(time.Second / time.Duration(*ramp))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			report := func(n int, key bool, lat float64) {
				if key && !start.IsZero() {
					mu.Lock()
					starts = append(starts, float64(time.Since(start).Microseconds())/1000)
					mu.Unlock()
					start = time.Time{}
				}
				if measuring.Load() {
					counts[i].Add(int64(n))
					if lat >= 0 {
						mu.Lock()
						latencies = append(latencies, lat)
						mu.Unlock()
					}
				}
			}
			var err error
			if httpFLV {
				play := benchPlayHTTP
				if strings.HasSuffix(*playURL, "/whep") {
					play = benchPlayWHEP
				}
				var playing bool
				playing, err = play(ctx, *playURL, report)
				if playing {
					connected.Add(1)
					if err != nil && ctx.Err() == nil {
						dropped.Add(1)
					}
				}
			} else {
				var c netClient
				var stream string
				c, stream, err = dialURL(ctx, *playURL, "LNX 9,0,124,2", true)
				if err == nil {
					defer c.Close()
					var id uint32
					if id, err = c.CreateStream(); err == nil {
						err = c.Play(id, stream, -2000)
					}
					if err == nil {
						connected.Add(1)
						err = benchPlay(ctx, c, id, report)
						if err != nil && ctx.Err() == nil {
							dropped.Add(1)
						}
					}
				}
			}
			if err != nil && ctx.Err() == nil {
				if connected.Load() == 0 {
					failed.Add(1)
				}
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	time.Sleep(*warmup)
	cpu0, _ := procCPU(*pid)
	pub0 := published.Load()
	measuring.Store(true)
	t0 := time.Now()
	var rssMax int64
	for end := t0.Add(*duration); time.Now().Before(end); {
		select {
		case err := <-pubErr:
			return fmt.Errorf("publisher: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if rss, err := procRSS(*pid); err == nil {
			rssMax = max(rssMax, rss)
		}
	}
	measuring.Store(false)
	window := time.Since(t0).Seconds()
	cpu1, _ := procCPU(*pid)
	pubBytes := published.Load() - pub0
	cancel()
	wg.Wait()

	r := benchResult{
		Label: *label, URL: *playURL, PlayersRequested: *players, PlayersConnected: connected.Load(),
		PlayersFailed: failed.Load(), PlayersDropped: dropped.Load(), DurationS: window,
		WarmupS: warmup.Seconds(), RampPerS: *ramp, PublishedKbps: float64(pubBytes) * 8 / 1000 / window,
		LatencySamples: len(latencies), ServerRSSkbMax: rssMax,
	}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	rates := make([]float64, 0, *players)
	for i := range counts {
		n := counts[i].Load()
		r.BytesReceivedTotal += n
		rates = append(rates, float64(n)*8/1000/window)
		if pubBytes > 0 && n >= pubBytes*95/100 {
			r.PlayersKeptUp++
		}
	}
	r.PerPlayerKbpsP50 = percentile(rates, 50)
	r.DeliveredMbps = float64(r.BytesReceivedTotal) * 8 / 1e6 / window
	r.StartP50ms, r.StartP95ms = percentile(starts, 50), percentile(starts, 95)
	r.LatencyP50ms, r.LatencyP95ms, r.LatencyP99ms = percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99)
	if *pid > 0 && cpu1 > cpu0 {
		r.ServerCPUPct = (cpu1 - cpu0) / window * 100
		if *players > 0 {
			r.CPUPctPer100Players = r.ServerCPUPct * 100 / float64(*players)
		}
		r.DeliveredMbpsPerCore = r.DeliveredMbps / (r.ServerCPUPct / 100)
	}
	enc := json.NewEncoder(out)
	return enc.Encode(r)
}

// benchTimeEvery is how often the publisher stamps wall-clock time into the
// stream (an onBenchTime data message) for players to measure latency.
const benchTimeEvery = 100 * time.Millisecond

// benchPlay reads a player's stream, reporting media bytes, keyframes and
// latency samples (-1 when a message carries none).
func benchPlay(ctx context.Context, c netClient, id uint32, report func(n int, key bool, lat float64)) error {
	for ctx.Err() == nil {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if m.StreamID != id {
			continue
		}
		switch m.Type {
		case protocol.TypeAudio:
			report(len(m.Payload), false, -1)
		case protocol.TypeVideo:
			report(len(m.Payload), media.ParseVideo(m.Payload).Keyframe, -1)
		case protocol.TypeDataAMF0:
			cmd, err := c.DecodeCommand(m)
			if err != nil || cmd.Name != "onBenchTime" {
				continue
			}
			if ms, ok := cmd.ArgNumber(0); ok {
				report(0, false, float64(time.Now().UnixMicro())/1000-ms)
			}
		}
	}
	return nil
}

// benchPlayHTTP reads an HTTP-FLV stream as benchPlay reads an RTMP
// play; playing says the server answered 200.
func benchPlayHTTP(ctx context.Context, rawURL string, report func(n int, key bool, lat float64)) (playing bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, err
	}
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("GET %s: %s: %s", rawURL, resp.Status, strings.TrimSpace(string(b)))
	}
	fr, err := media.NewFLVReader(resp.Body)
	if err != nil {
		return true, err
	}
	var dec amf.Decoder
	for ctx.Err() == nil {
		tag, err := fr.ReadTag()
		if err != nil {
			return true, err
		}
		switch tag.Type {
		case protocol.TypeAudio:
			report(len(tag.Data), false, -1)
		case protocol.TypeVideo:
			report(len(tag.Data), media.ParseVideo(tag.Data).Keyframe, -1)
		case protocol.TypeDataAMF0:
			cmd, err := protocol.DecodeCommand(&dec, tag.Type, tag.Data)
			if err != nil || cmd.Name != "onBenchTime" {
				continue
			}
			if ms, ok := cmd.ArgNumber(0); ok {
				report(0, false, float64(time.Now().UnixMicro())/1000-ms)
			}
		}
	}
	return true, nil
}

// benchHTTP is the HTTP-FLV players' client: each play is a response
// that never ends, on a connection of its own.
var benchHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}}

// benchPublish publishes an FLV in a loop, or synthetic 2 Mbit/s video at
// 30 fps with a keyframe every 2 s plus audio, stamping the time every
// 100 ms; it counts the media bytes sent.
func benchPublish(ctx context.Context, rawURL, flv string, sent *atomic.Int64) error {
	c, stream, err := dialURL(ctx, rawURL, "FMLE/3.0 (compatible; nimbus bench)", true)
	if err != nil {
		return err
	}
	defer c.Close()
	id, err := c.CreateStream()
	if err != nil {
		return err
	}
	if err := c.Publish(id, stream, "live"); err != nil {
		return err
	}
	go drain(c)
	counter := countingClient{netClient: c, sent: sent, streamID: id}
	if flv != "" {
		return sendFLV(ctx, counter, id, flv, true)
	}
	return sendSynthetic(ctx, counter, id)
}

// countingClient counts published media bytes and stamps the time.
type countingClient struct {
	netClient
	sent     *atomic.Int64
	streamID uint32
}

func (c countingClient) WriteMessage(m protocol.Message) error {
	if m.Type == protocol.TypeAudio || m.Type == protocol.TypeVideo {
		c.sent.Add(int64(len(m.Payload)))
	}
	return c.netClient.WriteMessage(m)
}

func sendSynthetic(ctx context.Context, c countingClient, id uint32) error {
	const fps = 30
	frame := 2_000_000 / 8 / fps
	start := time.Now()
	seq := []protocol.Message{
		{Type: protocol.TypeVideo, StreamID: id, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f}},
		{Type: protocol.TypeAudio, StreamID: id, Payload: []byte{0xaf, 0, 0x12, 0x10}},
	}
	for _, m := range seq {
		if err := c.WriteMessage(m); err != nil {
			return err
		}
	}
	key := make([]byte, frame*3)
	key[0], key[1] = 0x17, 1
	inter := make([]byte, frame*9/10)
	inter[0], inter[1] = 0x27, 1
	audio := make([]byte, 200)
	audio[0], audio[1] = 0xaf, 1
	var lastStamp time.Time
	for i := 0; ctx.Err() == nil; i++ {
		ts := uint32(i * 1000 / fps)
		if wait := time.Until(start.Add(time.Duration(ts) * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
		payload := inter
		if i%(2*fps) == 0 {
			payload = key
		}
		if err := c.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: id, Timestamp: ts, Payload: payload}); err != nil {
			return err
		}
		if err := c.WriteMessage(protocol.Message{Type: protocol.TypeAudio, StreamID: id, Timestamp: ts, Payload: audio}); err != nil {
			return err
		}
		if now := time.Now(); now.Sub(lastStamp) >= benchTimeEvery {
			lastStamp = now
			b, _ := protocol.AppendValues(nil, "onBenchTime", float64(now.UnixMicro())/1000)
			if err := c.WriteMessage(protocol.Message{Type: protocol.TypeDataAMF0, StreamID: id, Timestamp: ts, Payload: b}); err != nil {
				return err
			}
		}
	}
	return nil
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return float64(int(s[i]*100)) / 100
}

// procCPU is a process's user+system CPU time in seconds (Linux /proc).
func procCPU(pid int) (float64, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procRSS is a process's resident memory in KB.
func procRSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strconv.ParseInt(strings.Fields(line)[1], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}
