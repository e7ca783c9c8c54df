package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
)

// readAll reads messages until EOF, copying payloads.
func readAll(r *Reader) ([]csMessage, error) {
	var out []csMessage
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		m.Payload = bytes.Clone(m.Payload)
		out = append(out, csMessage{r.LastChunkStreamID(), m})
	}
}

func equalMessages(t *testing.T, got, want []csMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.csid != w.csid || g.m.Type != w.m.Type || g.m.StreamID != w.m.StreamID ||
			g.m.Timestamp != w.m.Timestamp || !bytes.Equal(g.m.Payload, w.m.Payload) {
			t.Fatalf("message %d: got csid %d %v sid %d ts %d len %d, want csid %d %v sid %d ts %d len %d",
				i, g.csid, g.m.Type, g.m.StreamID, g.m.Timestamp, len(g.m.Payload),
				w.csid, w.m.Type, w.m.StreamID, w.m.Timestamp, len(w.m.Payload))
		}
	}
}

func TestReaderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(tc.wire)
			r := NewReader(bytes.NewReader(wire), 0)
			r.chunkSize = tc.chunkSize
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			equalMessages(t, got, tc.msgs)
			if r.BytesRead() != uint64(len(wire)) {
				t.Errorf("BytesRead = %d, want %d", r.BytesRead(), len(wire))
			}
		})
	}
}

// TestReaderHeaders covers header sequences our Writer never produces but
// peers may.
func TestReaderHeaders(t *testing.T) {
	p4 := hexPayload(4, 1)
	for _, tc := range []struct {
		name string
		wire string
		want []csMessage
	}{
		{
			// RTMP 1.0 §5.3.1.2.4: after a type 0 header, a type 3 chunk
			// starting a message uses the type 0 timestamp as its delta.
			name: "type 3 after type 0",
			wire: "03 000028 000004 08 01000000" + p4 + "c3" + p4 + "c3" + p4,
			want: []csMessage{
				msg(3, protocol.TypeAudio, 1, 40, payload(4, 1)),
				msg(3, protocol.TypeAudio, 1, 80, payload(4, 1)),
				msg(3, protocol.TypeAudio, 1, 120, payload(4, 1)),
			},
		},
		{
			name: "deltas accumulate and wrap at 2^32",
			wire: "03 ffffff 000004 08 01000000 fffffff0" + p4 +
				"43 000008 000004 09" + p4 +
				"83 000010" + p4 +
				"c3" + p4,
			want: []csMessage{
				msg(3, protocol.TypeAudio, 1, 0xFFFFFFF0, payload(4, 1)),
				msg(3, protocol.TypeVideo, 1, 0xFFFFFFF8, payload(4, 1)),
				msg(3, protocol.TypeVideo, 1, 0x00000008, payload(4, 1)),
				msg(3, protocol.TypeVideo, 1, 0x00000018, payload(4, 1)),
			},
		},
		{
			// Chunks of messages on different chunk streams interleave.
			name: "interleaved chunk streams",
			wire: "04 000000 000100 09 01000000" + hex128(2) +
				"06 000000 000004 08 01000000" + p4 +
				"c4" + hex128(3) +
				"86 000014" + p4,
			want: []csMessage{
				msg(6, protocol.TypeAudio, 1, 0, payload(4, 1)),
				msg(4, protocol.TypeVideo, 1, 0, append(payload(128, 2), payload(128, 3)...)),
				msg(6, protocol.TypeAudio, 1, 20, payload(4, 1)),
			},
		},
		{
			// A sender that leaves the extended timestamp out of
			// continuation chunks (SRS tolerates this, and so do we).
			name: "continuation without extended timestamp",
			wire: "04 ffffff 000084 09 01000000 01000000" + hex128(4) + "c4" + p4,
			want: []csMessage{msg(4, protocol.TypeVideo, 1, 0x01000000, append(payload(128, 4), payload(4, 1)...))},
		},
		{
			// Some senders write the message timestamp rather than the
			// delta into the continuation chunks' field.
			name: "continuation with absolute timestamp after extended delta",
			wire: "04 000010 000004 09 01000000" + p4 +
				"44 ffffff 000084 09 01000000" + hex128(4) + "c4 01000010" + p4,
			want: []csMessage{
				msg(4, protocol.TypeVideo, 1, 0x10, payload(4, 1)),
				msg(4, protocol.TypeVideo, 1, 0x01000010, append(payload(128, 4), payload(4, 1)...)),
			},
		},
		{
			// The last chunk holds fewer than 4 bytes and no extended
			// field: it is read without waiting for more.
			name: "short continuation without extended timestamp",
			wire: "04 ffffff 000082 09 01000000 01000000" + hex128(4) + "c4 abcd",
			want: []csMessage{msg(4, protocol.TypeVideo, 1, 0x01000000, append(payload(128, 4), 0xab, 0xcd))},
		},
		{
			name: "short continuation with extended timestamp",
			wire: "04 ffffff 000082 09 01000000 01000000" + hex128(4) + "c4 01000000 abcd",
			want: []csMessage{msg(4, protocol.TypeVideo, 1, 0x01000000, append(payload(128, 4), 0xab, 0xcd))},
		},
		{
			// A new header in the middle of a message drops the partial
			// message, as ffmpeg does.
			name: "new header mid-message",
			wire: "04 000000 000100 09 01000000" + hex128(2) + "44 000005 000004 09" + p4,
			want: []csMessage{msg(4, protocol.TypeVideo, 1, 5, payload(4, 1))},
		},
		{
			name: "set chunk size applies to the next chunk",
			wire: "02 000000 000004 01 00000000 00000100" +
				"04 000000 000100 09 01000000" + hex128(2) + hex128(3),
			want: []csMessage{
				msg(2, protocol.TypeSetChunkSize, 0, 0, unhex("00000100")),
				msg(4, protocol.TypeVideo, 1, 0, append(payload(128, 2), payload(128, 3)...)),
			},
		},
		{
			// Errata §6: Abort drops the partial message; its header still
			// set the timestamp the next delta applies to.
			name: "abort",
			wire: "04 000064 000100 09 01000000" + hex128(2) +
				"02 000000 000004 02 00000000 00000004" +
				"84 00000a" + hex128(3) + "c4" + hex128(4),
			want: []csMessage{
				msg(2, protocol.TypeAbort, 0, 0, unhex("00000004")),
				msg(4, protocol.TypeVideo, 1, 110, append(payload(128, 3), payload(128, 4)...)),
			},
		},
		{
			name: "abort of an unknown chunk stream",
			wire: "02 000000 000004 02 00000000 00000009",
			want: []csMessage{msg(2, protocol.TypeAbort, 0, 0, unhex("00000009"))},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(tc.wire)
			r := NewReader(bytes.NewReader(wire), 0)
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			equalMessages(t, got, tc.want)
			if r.BytesRead() != uint64(len(wire)) {
				t.Errorf("BytesRead = %d, want %d", r.BytesRead(), len(wire))
			}
		})
	}
}

func hex128(seed byte) string { return hexPayload(128, seed) }

func TestReaderSetChunkSize(t *testing.T) {
	for _, tc := range []struct {
		size    uint32
		want    uint32
		wantErr error
	}{
		{1, 1, nil},
		{128, 128, nil},
		{4096, 4096, nil},
		{65536, 65536, nil},
		{0xFFFFFF, 0xFFFFFF, nil},
		{0x1000000, 0xFFFFFF, nil},
		{0x7FFFFFFF, 0xFFFFFF, nil},
		{0, 0, ErrInvalidChunkSize},
		{0x80000000, 0, ErrInvalidChunkSize},
		{0xFFFFFFFF, 0, ErrInvalidChunkSize},
	} {
		wire := append(unhex("02 000000 000004 01 00000000"), AppendSetChunkSize(nil, tc.size)...)
		r := NewReader(bytes.NewReader(wire), 0)
		_, err := r.ReadMessage()
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("size %#x: err = %v, want %v", tc.size, err, tc.wantErr)
		} else if err == nil && r.ChunkSize() != tc.want {
			t.Errorf("size %#x: ChunkSize = %#x, want %#x", tc.size, r.ChunkSize(), tc.want)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	// 65 chunk streams, each opened with an empty message.
	var flood []byte
	for csid := uint32(3); csid < 3+65; csid++ {
		flood = appendBasicHeader(flood, fmtFull, csid)
		flood = append(flood, unhex("000000 000000 08 00000000")...)
	}
	for _, tc := range []struct {
		name    string
		max     uint32
		wire    []byte
		wantErr error
		msgs    int // messages read before the error
	}{
		{name: "type 1 first", wire: unhex("43 000000 000004 08 00000000"), wantErr: ErrNoPreviousHeader},
		{name: "type 2 first", wire: unhex("83 000000"), wantErr: ErrNoPreviousHeader},
		{name: "type 3 first", wire: unhex("c3 00"), wantErr: ErrNoPreviousHeader},
		{name: "too large type 0", max: 1000, wire: unhex("03 000000 0003e9 09 00000000"), wantErr: ErrMessageTooLarge},
		{name: "too large type 1", max: 1000, wire: unhex("03 000000 000000 09 00000000 43 000000 0003e9 09"), wantErr: ErrMessageTooLarge, msgs: 1},
		{name: "too many chunk streams", wire: flood, wantErr: ErrTooManyChunkStreams, msgs: 64},
		{
			// Three 1000-byte messages in progress at once need 3000
			// bytes; the limit is twice the message size.
			name: "reassembly limit",
			max:  1000,
			wire: unhex("04 000000 0003e8 09 00000000" + hex128(1) +
				"05 000000 0003e8 09 00000000" + hex128(1) +
				"06 000000 0003e8 09 00000000" + hex128(1)),
			wantErr: ErrReassemblyLimit,
		},
		{name: "short set chunk size", wire: unhex("02 000000 000002 01 00000000 0001"), wantErr: ErrShortPayload},
		{name: "short abort", wire: unhex("02 000000 000000 02 00000000"), wantErr: ErrShortPayload},
		{name: "truncated basic header", wire: unhex("00"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated message header", wire: unhex("03 000000 00"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated extended timestamp", wire: unhex("03 ffffff 000001 08 00000000 0000"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", wire: unhex("03 000000 000004 08 00000000 0102"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated between chunks", wire: unhex("03 000000 000084 08 00000000" + hex128(1)), wantErr: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.wire), tc.max)
			for i := range tc.msgs {
				if _, err := r.ReadMessage(); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			_, err := r.ReadMessage()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if r.held > r.budget {
				t.Errorf("holding %d bytes, over the budget of %d", r.held, r.budget)
			}
		})
	}
}

// A declared length over the limit is refused before anything is
// allocated, and a length under it is not allocated before its data comes.
func TestReaderAllocatesWithData(t *testing.T) {
	r := NewReader(bytes.NewReader(unhex("03 000000 ffffff 09 00000000")), 1<<20)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) || r.held != 0 {
		t.Fatalf("err = %v, held %d", err, r.held)
	}
	r = NewReader(bytes.NewReader(unhex("03 000000 ffffff 09 00000000"+hex128(1))), 0)
	if _, err := r.ReadMessage(); err != io.EOF || r.held > reassemblyInitial {
		t.Fatalf("err = %v, held %d for 128 bytes received", err, r.held)
	}
}

// Buffers of chunk streams between messages give way to a message in
// progress when the budget is reached.
func TestReaderReleasesIdleBuffers(t *testing.T) {
	var msgs []csMessage
	for _, csid := range []uint32{3, 4, 5, 64, 400, 6, 65599, 7} {
		msgs = append(msgs, msg(csid, protocol.TypeVideo, 1, 0, payload(1000, byte(csid))))
	}
	wire, err := encodeMessages(128, msgs)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(wire), 1000)
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	equalMessages(t, got, msgs)
	if r.held > r.budget {
		t.Errorf("holding %d bytes, over the budget of %d", r.held, r.budget)
	}
}

// TestRoundTripChunkSizes writes and reads the same messages at the chunk
// sizes peers use, including the 0x7FFFFFFF MonaServer sends.
func TestRoundTripChunkSizes(t *testing.T) {
	msgs := []csMessage{
		msg(3, protocol.TypeCommandAMF0, 0, 0, payload(300, 1)),
		msg(6, protocol.TypeVideo, 1, 0, payload(70000, 2)),
		msg(4, protocol.TypeAudio, 1, 0, payload(200, 3)),
		msg(6, protocol.TypeVideo, 1, 33, payload(5000, 4)),
		msg(4, protocol.TypeAudio, 1, 23, payload(200, 5)),
		msg(4, protocol.TypeAudio, 1, 46, payload(200, 6)),
		msg(6, protocol.TypeVideo, 1, 0x01000000, payload(5000, 7)),
		msg(6, protocol.TypeVideo, 1, 0x01000021, payload(0, 8)),
		msg(400, protocol.TypeDataAMF0, 1, 0x01000021, payload(129, 9)),
	}
	for _, size := range []uint32{1, 128, 4096, 65536, 0x7FFFFFFF} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			setChunkSize(t, w, size)
			if w.ChunkSize() != size {
				t.Fatalf("ChunkSize = %d, want %d", w.ChunkSize(), size)
			}
			for _, cm := range msgs {
				if err := w.WriteMessage(cm.csid, cm.m); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(NewReader(&buf, 0))
			if err != nil {
				t.Fatal(err)
			}
			equalMessages(t, got[1:], msgs)
		})
	}
}

// setChunkSize sends a Set Chunk Size message and switches w to it, the
// way a connection does.
func setChunkSize(t testing.TB, w *Writer, size uint32) {
	err := w.WriteMessage(ControlChunkStreamID, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: AppendSetChunkSize(nil, size)})
	if err != nil {
		t.Fatal(err)
	}
	w.SetChunkSize(size)
}

// TestRoundTripRandom checks the property that whatever sequence of
// messages the Writer is given, the Reader returns it unchanged.
func TestRoundTripRandom(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 0x5EED))
		var buf bytes.Buffer
		w := NewWriter(&buf)
		var want []csMessage
		ts := map[uint32]uint32{}
		csids := []uint32{2, 3, 4, 5, 63, 64, 319, 320, 65599}
		allSizes := []int{0, 1, 4, 100, 127, 128, 129, 3000, 70000}
		sizes := allSizes
		for range 300 {
			if rng.IntN(40) == 0 {
				size := []uint32{1, 7, 128, 4096, 65536, 0x7FFFFFFF}[rng.IntN(6)]
				setChunkSize(t, w, size)
				// Keep tiny chunk sizes from making the test slow.
				sizes = allSizes
				if size < 128 {
					sizes = allSizes[:len(allSizes)-1]
				}
				want = append(want, msg(ControlChunkStreamID, protocol.TypeSetChunkSize, 0, 0, AppendSetChunkSize(nil, size)))
				continue
			}
			csid := csids[rng.IntN(len(csids))]
			switch rng.IntN(10) {
			case 0:
				ts[csid] = rng.Uint32() // anywhere, backwards included
			case 1:
				ts[csid] += 0xFFFFFF + rng.Uint32N(3) - 1 // around the extended threshold
			case 2:
			default:
				ts[csid] += rng.Uint32N(100)
			}
			n := sizes[rng.IntN(len(sizes))]
			m := msg(csid, protocol.Type(8+rng.IntN(2)), rng.Uint32N(3), ts[csid], payload(n, byte(rng.Uint32())))
			if err := w.WriteMessage(m.csid, m.m); err != nil {
				t.Fatal(err)
			}
			want = append(want, m)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(NewReader(&buf, 0))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		equalMessages(t, got, want)
	}
}

// loopReader returns the same bytes over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// videoStream encodes n 4 KiB video messages, the first with a type 0
// header, so that the stream can be replayed in a loop.
func videoStream(tb testing.TB, n int, chunkSize uint32) []byte {
	var msgs []csMessage
	for i := range n {
		msgs = append(msgs, msg(6, protocol.TypeVideo, 1, uint32(i*33), payload(4096, byte(i))))
	}
	wire, err := encodeMessages(chunkSize, msgs)
	if err != nil {
		tb.Fatal(err)
	}
	return wire
}

func TestReaderZeroAllocs(t *testing.T) {
	for _, chunkSize := range []uint32{128, 4096} {
		r := NewReader(&loopReader{data: videoStream(t, 100, chunkSize)}, 0)
		r.chunkSize = chunkSize
		for range 200 {
			if _, err := r.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := r.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("chunk size %d: %v allocations per message, want 0", chunkSize, allocs)
		}
	}
}

func BenchmarkReadVideo4K(b *testing.B) {
	r := NewReader(&loopReader{data: videoStream(b, 100, 4096)}, 0)
	r.chunkSize = 4096
	b.ReportAllocs()
	b.SetBytes(4096)
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(unhex(tc.wire))
	}
	f.Add(videoStream(f, 3, 128))
	f.Add(unhex("02 000000 000004 01 00000000 00000001 03 ffffff 000010 09 01000000 01000000 aa c3 01000000 bb"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		r := NewReader(bytes.NewReader(data), limit)
		for {
			m, err := r.ReadMessage()
			if r.held > r.budget {
				t.Fatalf("holding %d bytes, over the budget of %d", r.held, r.budget)
			}
			if err != nil {
				return
			}
			if len(m.Payload) > limit {
				t.Fatalf("%d-byte message over the %d limit", len(m.Payload), limit)
			}
			if r.BytesRead() > uint64(len(data)) {
				t.Fatalf("BytesRead %d beyond the %d bytes given", r.BytesRead(), len(data))
			}
		}
	})
}
