package server

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// ncClient is what TestCommandEncodings needs of either client.
type ncClient interface {
	Info() amf.Object
	Call(name string, args ...any) (protocol.Command, error)
	CreateStream() (uint32, error)
	Publish(streamID uint32, name, kind string) error
	Play(streamID uint32, name string, start float64) error
	WriteMessage(protocol.Message) error
	ReadMessage() (protocol.Message, error)
}

// TestCommandEncodings: Flash Player's default objectEncoding is 3, which
// sends commands as AMF3 messages (type 17 over RTMP, its AMF3 form over
// RTMFP). Each protocol with each encoding gets the same answers: the
// connect result, createStream, publish and play statuses, a failed call,
// and the media.
func TestCommandEncodings(t *testing.T) {
	ts := startServer(t, nil)
	dialWith := func(proto string, enc float64) ncClient {
		if proto == "rtmp" {
			c := dial(t, ts, rtmp.ClientConfig{ObjectEncoding: enc})
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			return c
		}
		c := dialRTMFP(t, ts.mfp, tc.ClientConfig{ObjectEncoding: enc})
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	var want []string
	for _, proto := range []string{"rtmp", "rtmfp"} {
		for _, enc := range []float64{0, 3} {
			name := fmt.Sprintf("%s-amf%v", proto, enc)
			var got []string
			note := func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }

			pub := dialWith(proto, enc)
			e, _ := pub.Info().Number("objectEncoding")
			note("connect %v objectEncoding %v", pub.Info().String("code"), e == enc)
			_, err := pub.Call("noSuchMethod", 1.0)
			var se *protocol.StatusError
			if errors.As(err, &se) {
				note("call %s", se.Code)
			} else {
				note("call %v", err)
			}
			pid, err := pub.CreateStream()
			note("createStream %v", err)
			note("publish %v", pub.Publish(pid, name, "live"))

			player := dialWith(proto, enc)
			sid, err := player.CreateStream()
			note("player createStream %v", err)
			note("play %v", player.Play(sid, name, -2000))

			for _, m := range []protocol.Message{
				{Type: protocol.TypeVideo, StreamID: pid, Payload: avcSeqHeader()},
				{Type: protocol.TypeVideo, StreamID: pid, Timestamp: 40, Payload: avcFrame(true, 1, 1000)},
			} {
				if err := pub.WriteMessage(m); err != nil {
					t.Fatalf("%s: send: %v", name, err)
				}
			}
			m1 := readMediaFrom(t, player, sid)
			m2 := readMediaFrom(t, player, sid)
			note("media %v %v", bytes.Equal(m1.Payload, avcSeqHeader()), bytes.Equal(m2.Payload, avcFrame(true, 1, 1000)))

			if want == nil {
				want = got
				t.Logf("answers: %q", want)
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s answers\n  %q\nwant (rtmp, AMF0)\n  %q", name, got, want)
			}
		}
	}
	if fmt.Sprint(want) != fmt.Sprint([]string{
		"connect NetConnection.Connect.Success objectEncoding true",
		"call NetConnection.Call.Failed",
		"createStream <nil>", "publish <nil>", "player createStream <nil>", "play <nil>",
		"media true true",
	}) {
		t.Errorf("AMF0 over RTMP: %q", want)
	}
}
