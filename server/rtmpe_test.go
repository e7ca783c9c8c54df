package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// rtmpeURL is ts's application URL with the rtmpe scheme.
func rtmpeURL(ts *testServer) string { return "rtmpe" + strings.TrimPrefix(ts.url, "rtmp") }

// rtmpeServer returns a view of ts whose URL is rtmpe://, for the client
// helpers (dial, startPublishing, startPlaying).
func rtmpeServer(ts *testServer) *testServer {
	e := *ts
	e.url = rtmpeURL(ts)
	return &e
}

// TestRTMPEOurClient: our client publishes and plays over RTMPE beside a
// plain RTMP player of the same stream; both get every frame, a keyframe
// larger than a chunk, and the server reports the encrypted connections as
// rtmpe.
func TestRTMPEOurClient(t *testing.T) {
	ts := startServer(t, nil)
	tse := rtmpeServer(ts)
	pub, pid := startPublishing(t, tse, "enc", rtmp.ClientConfig{})
	encPlayer, encID := startPlaying(t, tse, "enc", rtmp.ClientConfig{})
	plainPlayer, plainID := startPlaying(t, ts, "enc", rtmp.ClientConfig{})

	frames := [][]byte{avcSeqHeader(), avcFrame(true, 1, 200000), avcFrame(false, 2, 3000)}
	for i, f := range frames {
		send(t, pub, pid, protocol.TypeVideo, uint32(40*i), f)
	}
	for _, p := range []struct {
		name string
		c    *rtmp.Client
		id   uint32
	}{{"rtmpe", encPlayer, encID}, {"rtmp", plainPlayer, plainID}} {
		for i, f := range frames {
			if m := readMedia(t, p.c, p.id); !bytes.Equal(m.Payload, f) {
				t.Fatalf("%s player: frame %d differs (%d bytes, want %d)", p.name, i, len(m.Payload), len(f))
			}
		}
	}
	inst, err := ts.Apps().Resolve("live", apps.DefaultInstance)
	if err != nil {
		t.Fatal(err)
	}
	protos := map[string]int{}
	for _, c := range inst.Clients() {
		protos[c.Protocol()]++
	}
	if protos["rtmpe"] != 2 || protos["rtmp"] != 1 {
		t.Errorf("client protocols %v, want 2 rtmpe and 1 rtmp", protos)
	}
}

// TestRTMPEOff: with rtmp.rtmpe off an RTMPE client is refused at C0, with
// the reason logged, and plain RTMP still works.
func TestRTMPEOff(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.RTMP.RTMPE = false })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := rtmp.Dial(ctx, rtmpeURL(ts), rtmp.ClientConfig{}); err == nil {
		c.Close()
		t.Fatal("RTMPE client connected with rtmp.rtmpe off")
	}
	dial(t, ts, rtmp.ClientConfig{})
	testtools.WaitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
		return closedWith(ts, "RTMPE, turned off")
	})
}

// closedWith reports whether a connection was logged closed with an error
// containing s.
func closedWith(ts *testServer, s string) bool {
	for _, e := range ts.logs.FilterMessage("closed").All() {
		if err, ok := e.ContextMap()["error"].(string); ok && strings.Contains(err, s) {
			return true
		}
	}
	return false
}

// hostileRTMPEC1 builds an RTMPE C1 whose digest is valid (base-772
// scheme, as librtmp sends it) and whose Diffie-Hellman public key is key.
func hostileRTMPEC1(t *testing.T, key []byte) []byte {
	t.Helper()
	c1 := make([]byte, 1536)
	if _, err := rand.Read(c1[8:]); err != nil {
		t.Fatal(err)
	}
	copy(c1[4:], []byte{128, 0, 3, 2})
	keyAt := (int(c1[768])+int(c1[769])+int(c1[770])+int(c1[771]))%632 + 8
	copy(c1[keyAt:], key)
	digestAt := (int(c1[772])+int(c1[773])+int(c1[774])+int(c1[775]))%728 + 776
	m := hmac.New(sha256.New, []byte("Genuine Adobe Flash Player 001"))
	m.Write(c1[:digestAt])
	m.Write(c1[digestAt+32:])
	copy(c1[digestAt:], m.Sum(nil))
	return c1
}

// TestRTMPEBadPublicKey: RTMPE handshakes with public keys 0, 1 and all
// ones (at least the prime) are closed at once with the reason logged,
// while a plain RTMP player keeps receiving a live stream.
func TestRTMPEBadPublicKey(t *testing.T) {
	ts := startServer(t, nil)
	pub, pid := startPublishing(t, ts, "live1", rtmp.ClientConfig{})
	player, sid := startPlaying(t, ts, "live1", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	if m := readMedia(t, player, sid); !bytes.Equal(m.Payload, avcSeqHeader()) {
		t.Fatal("player did not get the sequence header")
	}
	one := make([]byte, 128)
	one[127] = 1
	for i, key := range [][]byte{make([]byte, 128), one, bytes.Repeat([]byte{0xff}, 128)} {
		nc, err := net.Dial("tcp", ts.RTMPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(append([]byte{6}, hostileRTMPEC1(t, key)...)); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, nc)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("key %d: server did not close the connection", i)
		}
		if n != 0 {
			t.Errorf("key %d: server answered %d bytes", i, n)
		}
		send(t, pub, pid, protocol.TypeVideo, uint32(40*(i+1)), avcFrame(i == 0, i, 500))
		if m := readMedia(t, player, sid); !bytes.Equal(m.Payload, avcFrame(i == 0, i, 500)) {
			t.Fatalf("after key %d: the plain player's frame differs", i)
		}
	}
	testtools.WaitFor(t, 5*time.Second, "three refusals to be logged", func() bool {
		n := 0
		for _, e := range ts.logs.FilterMessage("closed").All() {
			if err, ok := e.ContextMap()["error"].(string); ok && strings.Contains(err, "invalid RTMPE public key") {
				n++
			}
		}
		return n == 3
	})
}

// flvTags counts the audio and video tags of an FLV file. A last tag cut
// short (rtmpdump was stopped in the middle of it) ends the count.
func flvTags(t *testing.T, file string) (audio, video int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := media.NewFLVReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for {
		tag, err := r.ReadTag()
		if err != nil {
			return audio, video
		}
		switch tag.Type {
		case protocol.TypeAudio:
			audio++
		case protocol.TypeVideo:
			video++
		}
	}
}

// c0Rewriter relays TCP connections to target, replacing the first byte a
// client sends (C0) with c0: it turns rtmpdump, which always asks for
// RTMPE version 6, into a client of version 8. Everything else passes
// untouched, the RC4 stream included (C0 is not covered by the digest).
func c0Rewriter(t *testing.T, target string, c0 byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer server.Close()
				var first [1]byte
				if _, err := io.ReadFull(client, first[:]); err != nil {
					return
				}
				if _, err := server.Write([]byte{c0}); err != nil {
					return
				}
				_, _ = io.Copy(server, client)
			}()
			go func() {
				defer wg.Done()
				defer client.Close()
				_, _ = io.Copy(client, server)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRTMPERtmpdump: ffmpeg publishes an H.264/AAC FLV over RTMP and
// rtmpdump (librtmp) plays it for a few seconds over rtmpe://, once asking
// for version 6 and once, through a relay that rewrites C0, for version 8
// (rtmpdump then checks the XTEA-enciphered S2 signature); over rtmpte://
// (RTMPE inside RTMPT); and over plain rtmpt://. Each recording holds video
// and audio tags.
func TestRTMPERtmpdump(t *testing.T) {
	rtmpdump := testtools.Require(t, "rtmpdump")
	src := testFLV(t)
	ts := startServer(t, func(c *config.Config) { c.RTMPT.Listen = "127.0.0.1:0" })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Publish in a loop so the stream outlives the players.
	publisher := testtools.FFmpeg(t, ctx, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/dump")
	pubOut := &testtools.Buffer{}
	publisher.Stdout, publisher.Stderr = pubOut, pubOut
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = publisher.Process.Kill()
		_ = publisher.Wait()
	}()
	testtools.WaitFor(t, 10*time.Second, "ffmpeg to publish", func() bool { return ts.stream(t, "dump") != nil })

	for _, tc := range []struct {
		scheme  string
		version byte
		addr    string
	}{
		{"rtmpe", 6, ts.RTMPAddr().String()},
		{"rtmpe", 8, c0Rewriter(t, ts.RTMPAddr().String(), 8)},
		{"rtmpte", 6, ts.RTMPTAddr().String()},
		{"rtmpt", 3, ts.RTMPTAddr().String()},
	} {
		out := filepath.Join(t.TempDir(), "played.flv")
		// rtmpdump's -B stop time does not end a live recording that
		// started mid-stream; interrupt it after 3 s, which it handles by
		// closing the file.
		cmd := exec.CommandContext(ctx, rtmpdump, "-r", tc.scheme+"://"+tc.addr+"/live/dump", "--live", "-o", out)
		cmd.WaitDelay = 5 * time.Second
		dumpOut := &testtools.Buffer{}
		cmd.Stdout, cmd.Stderr = dumpOut, dumpOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if !strings.Contains(dumpOut.String(), "Starting Live Stream") {
			t.Fatalf("%s version %d: rtmpdump did not start playing:\n%s", tc.scheme, tc.version, dumpOut.String())
		}
		audio, video := flvTags(t, out)
		// 3 s of a 25 fps stream with 44.1 kHz AAC: about 75 video and
		// 130 audio tags; allow for the cut at either end.
		if video < 40 || audio < 60 {
			t.Errorf("%s version %d: %d video and %d audio tags, want at least 40 and 60", tc.scheme, tc.version, video, audio)
		}
		t.Logf("%s version %d: %d video and %d audio tags", tc.scheme, tc.version, video, audio)
	}
	n := 0
	for _, e := range ts.logs.FilterMessage("handshake done").All() {
		if v, ok := e.ContextMap()["version"].(uint8); ok && (v == 6 || v == 8) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d RTMPE handshakes logged, want 3", n)
	}
}
