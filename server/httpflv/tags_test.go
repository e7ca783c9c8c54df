package httpflv

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
)

// TestClock: a player's timestamps start at 0 wherever it joins, keep the
// publisher's spacing, stamp configuration at the current time, hold a
// small step back (interleaving) and follow a large one from where they
// are, across the 32-bit wrap too.
func TestClock(t *testing.T) {
	var c clock
	for i, step := range []struct {
		in     uint32
		config bool
		want   uint32
	}{
		{0, true, 0},               // a sequence header published at 0
		{90000, false, 0},          // the keyframe the player joins at
		{90040, false, 40},         // video
		{90030, false, 40},         // audio a little early: held
		{90080, false, 80},         // video
		{5, false, 80},             // the publisher's clock restarted
		{45, false, 120},           // and goes on
		{45, true, 120},            // a new sequence header
		{10, false, 120},           // a small step back: held
		{1<<32 - 2000, false, 120}, // a step back of 2 s (across the wrap): followed from here
		{0, false, 2120},           // and forward across the wrap
	} {
		if got := c.stamp(step.in, step.config); got != step.want {
			t.Fatalf("step %d: stamp(%d, %v) = %d, want %d", i, step.in, step.config, got, step.want)
		}
	}
	var w clock
	w.stamp(1<<32-20, false)
	if got := w.stamp(20, false); got != 40 {
		t.Fatalf("across the wrap: %d, want 40", got)
	}
}

// TestTagWriter: the pieces of a write are the FLV stream (header, tags
// with their trailing sizes) with the payloads uncopied; over a WebSocket
// each tag is one binary frame.
func TestTagWriter(t *testing.T) {
	p1, p2 := []byte{0x17, 1, 2, 3}, bytes.Repeat([]byte{0xaf}, 300)
	for _, ws := range []bool{false, true} {
		w := tagWriter{ws: ws}
		w.header(true, true)
		w.tag(protocol.TypeVideo, 0x01020304, p1)
		w.tag(protocol.TypeAudio, 7, p2)
		segs := w.buffers()
		if &segs[1][0] != &p1[0] || &segs[3][0] != &p2[0] {
			t.Fatalf("ws %v: payloads were copied", ws)
		}
		var got []byte
		for _, s := range segs {
			got = append(got, s...)
		}
		var want []byte
		frame := func(n int) {
			if ws {
				want = appendWSHeader(want, opBinary, n)
			}
		}
		frame(13)
		want = append(want, 'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0)
		frame(11 + len(p1) + 4)
		want = append(want, 9, 0, 0, 4, 0x02, 0x03, 0x04, 0x01, 0, 0, 0)
		want = append(want, p1...)
		want = binary.BigEndian.AppendUint32(want, 15)
		frame(11 + len(p2) + 4)
		want = append(want, 8, 0, 1, 44, 0, 0, 7, 0, 0, 0, 0)
		want = append(want, p2...)
		want = binary.BigEndian.AppendUint32(want, 311)
		if !bytes.Equal(got, want) {
			t.Fatalf("ws %v:\n got % x\nwant % x", ws, got, want)
		}
		w.reset()
		if !w.empty() || len(w.buffers()) != 0 {
			t.Fatalf("ws %v: not empty after reset", ws)
		}
	}
	if h := appendWSHeader(nil, opBinary, 70000); !bytes.Equal(h, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}) {
		t.Fatalf("64-bit length header % x", h)
	}
}
