package rtmp

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
)

// TestPrechunkedMixesWithWriteMessage: shared pre-chunked messages and
// ordinary ones interleave on the same chunk streams, at several chunk
// sizes and across the extended-timestamp boundary, and the reader gets
// every message back intact and in order.
func TestPrechunkedMixesWithWriteMessage(t *testing.T) {
	for _, chunkSize := range []uint32{128, 4096, 65536} {
		var wire bytes.Buffer
		w := NewWriter(&wire)
		w.SetChunkSize(chunkSize)
		var want []protocol.Message
		ts := uint32(0xFFFF00)
		for i := range 40 {
			m := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: ts, Payload: payload(100+i*700, byte(i))}
			if i%3 == 2 {
				m.Type = protocol.TypeAudio
			}
			csid := uint32(6)
			if i%2 == 0 {
				if err := w.WritePrechunked(csid, m, ChunkVector(csid, m, chunkSize)); err != nil {
					t.Fatal(err)
				}
			} else if err := w.WriteMessage(csid, m); err != nil {
				t.Fatal(err)
			}
			want = append(want, m)
			ts += 40
			if i%7 == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		checkWire(t, w, &wire, chunkSize, want)
	}
}

// checkWire flushes w and checks that wire holds exactly want, read back
// at chunkSize, and as many bytes as w counted.
func checkWire(t *testing.T, w *Writer, wire *bytes.Buffer, chunkSize uint32, want []protocol.Message) {
	t.Helper()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.BytesWritten(); got != uint64(wire.Len()) {
		t.Errorf("BytesWritten %d, wire %d", got, wire.Len())
	}
	r := NewReader(wire, 1<<20)
	r.chunkSize = chunkSize
	for i, m := range want {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("chunk size %d, message %d: %v", chunkSize, i, err)
		}
		if got.Type != m.Type || got.Timestamp != m.Timestamp || got.StreamID != m.StreamID || !bytes.Equal(got.Payload, m.Payload) {
			t.Fatalf("chunk size %d, message %d: got type %v ts %d len %d, want type %v ts %d len %d",
				chunkSize, i, got.Type, got.Timestamp, len(got.Payload), m.Type, m.Timestamp, len(m.Payload))
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("chunk size %d: after the last message: %v, want EOF", chunkSize, err)
	}
}

// TestPrechunkedVectoredWrite: over TCP the queued segments go out in one
// vectored write and arrive in order.
func TestPrechunkedVectoredWrite(t *testing.T) {
	var got bytes.Buffer
	c, wait := testtools.TCPSink(t, &got)
	var want bytes.Buffer
	ref := NewWriter(&want)
	w := NewWriter(c)
	for i := range 10 {
		m := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: uint32(i * 40), Payload: payload(3000, byte(i))}
		chunks := ChunkVector(7, m, DefaultChunkSize)
		if err := w.WritePrechunked(7, m, chunks); err != nil {
			t.Fatal(err)
		}
		if err := ref.WritePrechunked(7, m, chunks); err != nil {
			t.Fatal(err)
		}
		ack := protocol.Message{Type: protocol.TypeAck, Payload: AppendAck(nil, uint32(i))}
		if err := w.WriteMessage(2, ack); err != nil {
			t.Fatal(err)
		}
		if err := ref.WriteMessage(2, ack); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ref.Flush(); err != nil {
		t.Fatal(err)
	}
	if wait(); !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("received %d bytes differing from the %d expected", got.Len(), want.Len())
	}
}

func TestPrechunkedWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the Writer's pools drop items at random under the race detector")
	}
	w := NewWriter(io.Discard)
	w.SetChunkSize(4096)
	m := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Payload: payload(4096, 1)}
	chunks := ChunkVector(7, m, 4096)
	ack := protocol.Message{Type: protocol.TypeAck, Payload: []byte{0, 0, 0, 1}}
	allocs := testing.AllocsPerRun(100, func() {
		m.Timestamp += 33
		if err := w.WritePrechunked(7, m, chunks); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessage(2, ack); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per pre-chunked write, want 0", allocs)
	}
}

// BenchmarkWritePrechunked4K is the per-player cost of sending a shared
// 4 KiB video frame: queue the shared chunks and flush.
func BenchmarkWritePrechunked4K(b *testing.B) {
	w := NewWriter(io.Discard)
	w.SetChunkSize(4096)
	m := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Payload: payload(4096, 1)}
	chunks := ChunkVector(7, m, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(bytes.Join(chunks, nil))))
	for b.Loop() {
		m.Timestamp += 33
		_ = w.WritePrechunked(7, m, chunks)
		_ = w.Flush()
	}
}

// TestChunkVector: the shared chunks of a message are byte for byte what a
// Writer sends for it as the first message of a chunk stream, across chunk
// boundaries, extended timestamps and two- and three-byte basic headers,
// and they alias the payload instead of copying it.
func TestChunkVector(t *testing.T) {
	for _, csid := range []uint32{3, 64, 400} {
		for _, ts := range []uint32{0, extendedTimestamp - 1, extendedTimestamp, 1 << 31} {
			for _, n := range []int{0, 1, 127, 128, 129, 256, 4095, 4096, 4097, 100000} {
				for _, chunkSize := range []uint32{128, 4096, MaxMessageLength + 1} {
					m := protocol.Message{Type: protocol.TypeVideo, Timestamp: ts, StreamID: 1, Payload: payload(n, byte(n))}
					var want bytes.Buffer
					w := NewWriter(&want)
					w.SetChunkSize(chunkSize)
					if err := w.WriteMessage(csid, m); err != nil {
						t.Fatal(err)
					}
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
					v := ChunkVector(csid, m, chunkSize)
					if got := bytes.Join(v, nil); !bytes.Equal(got, want.Bytes()) {
						t.Errorf("csid %d ts %d len %d chunk %d: %d bytes differ from the Writer's %d", csid, ts, n, chunkSize, len(got), want.Len())
					}
					for i := 1; i < len(v); i += 2 {
						if &v[i][0] != &m.Payload[(i/2)*int(min(chunkSize, MaxMessageLength))] {
							t.Fatalf("csid %d len %d chunk %d: segment %d is a copy, not the payload", csid, n, chunkSize, i)
						}
					}
				}
			}
		}
	}
}

// TestWriterPending: a caller that makes the writes itself (Pending, then
// Sent) gets the same bytes as Flush would have written, in order with
// what Flush writes between, whether the segments are shared chunks,
// buffered ones or both; Pending appends to what the caller passes.
func TestWriterPending(t *testing.T) {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	w.SetChunkSize(4096)
	if v := w.Pending(nil); v != nil {
		t.Fatalf("Pending of an empty Writer: %d buffers", len(v))
	}
	var want []protocol.Message
	prefix := []byte("not the writer's")
	for i := range 30 {
		m := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: uint32(i * 33), Payload: payload(50+i*500, byte(i))}
		if i%4 == 1 {
			if err := w.WriteMessage(3, m); err != nil { // buffered
				t.Fatal(err)
			}
		} else if err := w.WritePrechunked(7, m, ChunkVector(7, m, 4096)); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
		if i%3 == 2 {
			continue // Flush writes this one with the next
		}
		before := w.Buffered()
		v := w.Pending(net.Buffers{prefix})
		if len(v) < 2 || !bytes.Equal(v[0], prefix) {
			t.Fatalf("message %d: Pending gave %d buffers, not appended to the caller's", i, len(v))
		}
		n := 0
		for _, b := range v[1:] {
			wire.Write(b)
			n += len(b)
		}
		if n != before {
			t.Fatalf("message %d: %d bytes pending, %d buffered", i, n, before)
		}
		w.Sent()
		if w.Buffered() != 0 {
			t.Fatalf("message %d: %d bytes buffered after Sent", i, w.Buffered())
		}
		if i%5 == 0 {
			if err := w.Flush(); err != nil { // nothing left: writes nothing
				t.Fatal(err)
			}
		}
	}
	checkWire(t, w, &wire, 4096, want)
}
