package rtmp

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
)

func TestWriterGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeMessages(tc.chunkSize, tc.msgs)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(tc.wire); !bytes.Equal(got, want) {
				t.Fatalf("wire mismatch\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	for _, tc := range []struct {
		csid uint32
		size int
		want error
	}{
		{0, 1, ErrInvalidChunkStreamID},
		{1, 1, ErrInvalidChunkStreamID},
		{65600, 1, ErrInvalidChunkStreamID},
		{3, MaxMessageLength + 1, ErrMessageTooLarge},
		{65599, MaxMessageLength, nil},
	} {
		err := w.WriteMessage(tc.csid, protocol.Message{Type: protocol.TypeVideo, Payload: make([]byte, tc.size)})
		if !errors.Is(err, tc.want) {
			t.Errorf("csid %d, %d bytes: err = %v, want %v", tc.csid, tc.size, err, tc.want)
		}
	}
}

func TestWriterSetChunkSizePanics(t *testing.T) {
	for _, n := range []uint32{0, 0x80000000, 0xFFFFFFFF} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetChunkSize(%#x) did not panic", n)
				}
			}()
			NewWriter(io.Discard).SetChunkSize(n)
		}()
	}
}

// writeRecorder records the size of each Write call.
type writeRecorder struct {
	bytes.Buffer
	writes []int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

func TestWriterBuffering(t *testing.T) {
	var rec writeRecorder
	w := NewWriter(&rec)
	w.SetChunkSize(4096)
	video := payload(10000, 1)
	boundaries := map[int]bool{}
	for i := range 20 {
		if err := w.WriteMessage(6, protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: uint32(i * 40), Payload: video}); err != nil {
			t.Fatal(err)
		}
		boundaries[rec.Len()+w.Buffered()] = true
		if i == 5 && len(rec.writes) != 0 {
			// About 60 KB so far: still below the threshold.
			t.Fatalf("wrote %v before the threshold", rec.writes)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 {
		t.Fatalf("buffered %d after Flush", w.Buffered())
	}
	// Every write ends at a message boundary and stays within the threshold.
	end := 0
	for _, n := range rec.writes {
		end += n
		if n > writerFlushThreshold || !boundaries[end] {
			t.Errorf("write of %d bytes ending at %d splits a message: %v", n, end, rec.writes)
		}
	}
	r := NewReader(&rec.Buffer, 0)
	r.chunkSize = 4096
	for i := range 20 {
		m, err := r.ReadMessage()
		if err != nil || !bytes.Equal(m.Payload, video) || m.Timestamp != uint32(i*40) {
			t.Fatalf("message %d: %v, ts %d", i, err, m.Timestamp)
		}
	}
}

func TestWriterLargeMessage(t *testing.T) {
	for _, chunkSize := range []uint32{128, 65536, 0x7FFFFFFF} {
		var rec writeRecorder
		w := NewWriter(&rec)
		w.SetChunkSize(chunkSize)
		small := payload(100, 2)
		big := payload(1<<20, 3)
		for _, p := range [][]byte{small, big, small} {
			if err := w.WriteMessage(4, protocol.Message{Type: protocol.TypeVideo, Payload: p}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if cap(w.buf) > 2*writerFlushThreshold {
			t.Errorf("chunk size %d: buffer grew to %d", chunkSize, cap(w.buf))
		}
		// The small message before the big one went out on its own, so
		// that the big one is written in large pieces.
		if rec.writes[0] != 112 {
			t.Errorf("chunk size %d: first write %d bytes, want 112", chunkSize, rec.writes[0])
		}
		r := NewReader(&rec.Buffer, 0)
		r.chunkSize = min(chunkSize, maxEffectiveChunkSize)
		for i, want := range [][]byte{small, big, small} {
			m, err := r.ReadMessage()
			if err != nil || !bytes.Equal(m.Payload, want) {
				t.Fatalf("chunk size %d, message %d: %v", chunkSize, i, err)
			}
		}
	}
}

// failWriter fails every write.
type failWriter struct{ n int }

var errWrite = errors.New("write failed")

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errWrite
}

func TestWriterStickyError(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw)
	m := protocol.Message{Type: protocol.TypeVideo, Payload: payload(100, 4)}
	if err := w.WriteMessage(3, m); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, errWrite) {
		t.Fatalf("Flush: %v", err)
	}
	if err := w.WriteMessage(3, m); !errors.Is(err, errWrite) {
		t.Fatalf("WriteMessage after failure: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errWrite) || fw.n != 1 {
		t.Fatalf("Flush after failure: %v after %d writes", err, fw.n)
	}
}

// shortWriter accepts less than it is given.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriterShortWrite(t *testing.T) {
	w := NewWriter(shortWriter{})
	w.WriteMessage(3, protocol.Message{Type: protocol.TypeVideo, Payload: payload(10, 5)})
	if err := w.Flush(); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("Flush: %v, want io.ErrShortWrite", err)
	}
}

func video4K(w *Writer, i int, p []byte) error {
	return w.WriteMessage(6, protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: uint32(i * 33), Payload: p})
}

func TestWriterZeroAllocs(t *testing.T) {
	w := NewWriter(io.Discard)
	w.SetChunkSize(4096)
	p := payload(4096, 6)
	i := 0
	for range 100 { // warm up: buffer at full size
		video4K(w, i, p)
		i++
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := video4K(w, i, p); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 4 KiB message, want 0", allocs)
	}
	// Also at the default chunk size, where a message spans 32 chunks.
	w = NewWriter(io.Discard)
	for range 100 {
		video4K(w, i, p)
		i++
	}
	if allocs := testing.AllocsPerRun(1000, func() { video4K(w, i, p); i++ }); allocs != 0 {
		t.Fatalf("chunk size 128: %v allocations per message, want 0", allocs)
	}
}

func BenchmarkWriteVideo4K(b *testing.B) {
	w := NewWriter(io.Discard)
	w.SetChunkSize(4096)
	p := payload(4096, 7)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	i := 0
	for b.Loop() {
		if err := video4K(w, i, p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
