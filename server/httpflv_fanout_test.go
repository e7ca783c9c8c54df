package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestHTTPFLVBatchedFanout: each HTTP-FLV and WebSocket-FLV player of a
// 50-player audience gets every frame intact and in order, stamped from
// 0, with the fan-out's writes gathered into io_uring batches (which the
// batch pool counts) and with them written one by one (media.io_uring
// off).
func TestHTTPFLVBatchedFanout(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "io_uring", false: "writev"}[on]
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, func(c *config.Config) { c.Media.IOURing = on })
			pub, pid := startPublishing(t, ts, "hb", rtmp.ClientConfig{})
			const httpPlayers, wsPlayers, frames = 40, 10, 60
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			var streams []io.Reader
			for range httpPlayers {
				resp, err := client.Get(ts.playURL("/live/hb.flv"))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET: %d", resp.StatusCode)
				}
				streams = append(streams, resp.Body)
			}
			for range wsPlayers {
				ws, _, err := websocket.DefaultDialer.Dial("ws://"+ts.PlayAddr().String()+"/live/hb.flv", nil)
				if err != nil {
					t.Fatal(err)
				}
				defer ws.Close()
				_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
				streams = append(streams, &wsFLV{t: t, c: ws})
			}
			testtools.WaitFor(t, 5*time.Second, "the players to subscribe", func() bool {
				return ts.stream(t, "hb").Info().Subscribers == httpPlayers+wsPlayers
			})
			errs := make(chan error, len(streams))
			for _, r := range streams {
				go func() { errs <- readFLVFrames(r, frames) }()
			}
			send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
			for i := range frames {
				send(t, pub, pid, protocol.TypeVideo, uint32(i*33), avcFrame(i%20 == 0, i, 3000+i*97))
				time.Sleep(2 * time.Millisecond) // a live pace, which the players keep up with
			}
			for range streams {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if !on {
				return
			}
			if err := egress.URingAvailable(); err != nil {
				t.Logf("io_uring unavailable here (%v): the writes went one by one", err)
				return
			}
			if n, all := ts.batches.Writes(), uint64(len(streams)*frames); n < all/2 {
				t.Errorf("%d writes through batches, want most of the %d", n, all)
			}
		})
	}
}

// readFLVFrames reads an FLV stream until the video frames 0..frames-1
// came, checking each against what the publisher sent and its timestamp
// (the player's own: from 0, with the publisher's spacing).
func readFLVFrames(r io.Reader, frames int) error {
	br := bufio.NewReader(r)
	if _, err := io.ReadFull(br, make([]byte, 13)); err != nil {
		return fmt.Errorf("FLV header: %w", err)
	}
	th := make([]byte, 11)
	for next := 0; next < frames; {
		if _, err := io.ReadFull(br, th); err != nil {
			return fmt.Errorf("a tag's header after %d frames: %w", next, err)
		}
		size := int(th[1])<<16 | int(th[2])<<8 | int(th[3])
		body := make([]byte, size+4)
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("a tag's body after %d frames: %w", next, err)
		}
		if prev := binary.BigEndian.Uint32(body[size:]); prev != uint32(11+size) {
			return fmt.Errorf("after %d frames: previous tag size %d, want %d", next, prev, 11+size)
		}
		if protocol.Type(th[0]) != protocol.TypeVideo || media.ParseVideo(body[:size]).SeqHeader {
			continue
		}
		ts := uint32(th[4])<<16 | uint32(th[5])<<8 | uint32(th[6]) | uint32(th[7])<<24
		if want := avcFrame(next%20 == 0, next, 3000+next*97); !bytes.Equal(body[:size], want) || ts != uint32(next*33) {
			return fmt.Errorf("frame %d came damaged or out of order: %d bytes at %d ms", next, size, ts)
		}
		next++
	}
	return nil
}
