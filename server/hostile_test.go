package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// rawConnected returns a TCP connection that has completed the handshake,
// and a chunk writer on it.
func rawHandshaken(t *testing.T, ts *testServer) (net.Conn, *rtmp.Writer) {
	t.Helper()
	nc, err := net.Dial("tcp", ts.RTMPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := rtmp.ClientHandshake(nc, false); err != nil {
		t.Fatal(err)
	}
	return nc, rtmp.NewWriter(nc)
}

func writeMsg(t *testing.T, w *rtmp.Writer, csid uint32, m protocol.Message) {
	t.Helper()
	if err := w.WriteMessage(csid, m); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// connectCommand is a minimal AMF0 connect to live.
func connectCommand(t *testing.T, ts *testServer) protocol.Message {
	t.Helper()
	b, err := protocol.AppendCommand(nil, "connect", 1, map[string]any{"app": "live", "tcUrl": ts.url})
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Message{Type: protocol.TypeCommandAMF0, Payload: b}
}

// nestingBomb is an AMF0 command whose argument nests strict arrays 100,000 deep.
func nestingBomb() []byte {
	b := []byte("\x02\x00\x04call\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05")
	for range 100000 {
		b = append(b, 0x0a, 0, 0, 0, 1)
	}
	return append(b, 0x05)
}

// expectClosed waits for the server to close nc.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		var ne net.Error
		if errorsAs(err, &ne) && ne.Timeout() {
			t.Fatal("server did not close the connection")
		}
	}
}

// TestHostileInput: each kind of bad input closes only the offending
// connection, with a log line, while a live stream keeps flowing to a
// normal player and the server does not panic.
func TestHostileInput(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.RTMP.HandshakeTimeout = config.Duration{Duration: 500 * time.Millisecond}
		c.RTMP.MaxMessageSize = 1 << 20
	})
	pub, pid := startPublishing(t, ts, "steady", rtmp.ClientConfig{})
	player, id := startPlaying(t, ts, "steady", rtmp.ClientConfig{})

	// A steady stream for the duration of the test.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent, got atomic.Int64
	wg.Go(func() { publishSteadily(ctx, pub, pid, &sent) })
	wg.Go(func() { countVideo(ctx, player, id, &got) })
	defer func() { cancel(); wg.Wait() }()

	cases := []struct {
		name string
		run  func(t *testing.T)
		log  string // expected in the close line's error
	}{
		{"http request", func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.RTMPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			expectClosed(t, nc)
		}, "handshake"},
		{"truncated handshake", func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.RTMPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write(append([]byte{3}, make([]byte, 700)...))
			_ = nc.(*net.TCPConn).CloseWrite()
			expectClosed(t, nc)
		}, "handshake"},
		{"slowloris handshake", func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.RTMPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write([]byte{3, 0, 0})
			expectClosed(t, nc) // after the 500 ms handshake timeout
		}, "timeout"},
		{"chunk size with the top bit set", func(t *testing.T) {
			nc, w := rawHandshaken(t, ts)
			writeMsg(t, w, 2, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: []byte{0x80, 0, 0, 0}})
			expectClosed(t, nc)
		}, "chunk size"},
		{"chunk size zero", func(t *testing.T) {
			nc, w := rawHandshaken(t, ts)
			writeMsg(t, w, 2, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: []byte{0, 0, 0, 0}})
			expectClosed(t, nc)
		}, "chunk size"},
		{"oversized message", func(t *testing.T) {
			nc, _ := rawHandshaken(t, ts)
			// fmt 0 header on CSID 3 declaring a 16 MiB - 1 command.
			_, _ = nc.Write([]byte{0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0})
			expectClosed(t, nc)
		}, "too large"},
		{"AMF nesting bomb", func(t *testing.T) {
			nc, w := rawHandshaken(t, ts)
			writeMsg(t, w, 3, connectCommand(t, ts))
			writeMsg(t, w, 3, protocol.Message{Type: protocol.TypeCommandAMF0, Payload: nestingBomb()})
			expectClosed(t, nc)
		}, "nesting too deep"},
		{"command before connect", func(t *testing.T) {
			nc, w := rawHandshaken(t, ts)
			b, _ := protocol.AppendCommand(nil, "createStream", 2, nil)
			writeMsg(t, w, 3, protocol.Message{Type: protocol.TypeCommandAMF0, Payload: b})
			expectClosed(t, nc)
		}, "before connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := got.Load()
			tc.run(t)
			testtools.WaitFor(t, 5*time.Second, "a close log line mentioning "+tc.log, func() bool {
				for _, e := range ts.logs.FilterMessage("closed").All() {
					if err, ok := e.ContextMap()["error"].(string); ok && bytes.Contains([]byte(err), []byte(tc.log)) {
						return true
					}
				}
				return false
			})
			testtools.WaitFor(t, 5*time.Second, "the player to keep receiving", func() bool { return got.Load() > before+2 })
		})
	}

	// A legal but huge chunk size (MonaServer sends 0x7FFFFFFF) is accepted.
	nc, w := rawHandshaken(t, ts)
	writeMsg(t, w, 2, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: []byte{0x7f, 0xff, 0xff, 0xff}})
	w.SetChunkSize(0x7fffffff)
	writeMsg(t, w, 3, connectCommand(t, ts))
	r := rtmp.NewReader(nc, 1<<20)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("connection with chunk size 0x7FFFFFFF: %v", err)
		}
		if m.Type == protocol.TypeCommandAMF0 && bytes.Contains(m.Payload, []byte(protocol.ConnectSuccess)) {
			break
		}
	}
	if sent.Load() == 0 || got.Load() < sent.Load()/2 {
		t.Errorf("player received %d of %d frames", got.Load(), sent.Load())
	}
	// Each refusal is counted for /metrics.
	ref := ts.admit.Refusals()
	for limit, min := range map[string]uint64{"chunk_size": 2, "message_size": 1, "amf": 1} {
		if ref[limit] < min {
			t.Errorf("refusals[%q] = %d, want at least %d", limit, ref[limit], min)
		}
	}
}

// publishSteadily sends a small keyframe on stream pid every 20 ms until
// ctx ends or a write fails, counting them in sent.
func publishSteadily(ctx context.Context, pub *rtmp.Client, pid uint32, sent *atomic.Int64) {
	for i := 0; ctx.Err() == nil; i++ {
		if err := pub.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: pid, Timestamp: uint32(i * 20), Payload: avcFrame(true, i, 500)}); err != nil {
			return
		}
		sent.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// countVideo reads c until ctx ends or a read fails, counting the video
// messages of stream id in n.
func countVideo(ctx context.Context, c *rtmp.Client, id uint32, n *atomic.Int64) {
	for ctx.Err() == nil {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if m.StreamID == id && m.Type == protocol.TypeVideo {
			n.Add(1)
		}
	}
}
