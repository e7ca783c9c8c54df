package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func collect(t *testing.T, b []byte) (Ack, []SeqRange) {
	t.Helper()
	r := NewChunkReader(b)
	if !r.Next() {
		t.Fatalf("no chunk in %x", b)
	}
	a, err := ParseAck(r.Type(), r.Payload())
	if err != nil {
		t.Fatal(err)
	}
	var rs []SeqRange
	for {
		s, ok := a.Next()
		if !ok {
			break
		}
		rs = append(rs, s)
	}
	return a, rs
}

// RFC 7016 §2.3.13 Figure 4 and §2.3.14 Figures 5 and 6.
func TestAckRFCExamples(t *testing.T) {
	for _, tt := range []struct {
		name   string
		enc    []byte
		ranges []SeqRange
	}{
		{"figure 4 bitmap", []byte{0x50, 0x00, 0x05, 0x05, 0x7f, 0x10, 0x79, 0x06}, []SeqRange{{18, 18}, {21, 24}, {27, 28}}},
		{"figure 5 ranges", []byte{0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x03}, []SeqRange{{18, 18}, {21, 24}}},
		{"figure 6 truncated", []byte{0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x83}, []SeqRange{{18, 18}}},
	} {
		a, rs := collect(t, tt.enc)
		if a.FlowID != 5 || a.BufferBlocks != 127 || a.CumAck != 16 || !reflect.DeepEqual(rs, tt.ranges) {
			t.Errorf("%s: %+v %v", tt.name, a, rs)
		}
	}
}

func TestAppendAckChoosesCompact(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cum    uint64
		ranges []SeqRange
		typ    byte
	}{
		{"none", 10, nil, ChunkAckRanges},
		{"dense bitmap", 16, []SeqRange{{18, 18}, {21, 24}, {27, 28}}, ChunkAckBitmap},
		{"sparse ranges", 16, []SeqRange{{18, 18}, {5000, 5001}}, ChunkAckRanges},
		{"far range", 1, []SeqRange{{1 << 40, 1<<40 + 3}}, ChunkAckRanges},
	} {
		b := AppendAck(nil, 5, 127, tt.cum, tt.ranges, 0)
		if b[0] != tt.typ {
			t.Errorf("%s: type %#x, want %#x", tt.name, b[0], tt.typ)
		}
		a, rs := collect(t, b)
		if a.CumAck != tt.cum || !reflect.DeepEqual(rs, tt.ranges) {
			t.Errorf("%s: round trip %+v %v", tt.name, a, rs)
		}
	}
	// Truncation to a maximum length keeps leading ranges.
	var many []SeqRange
	for i := uint64(0); i < 100; i++ {
		many = append(many, SeqRange{100 + i*1000, 100 + i*1000})
	}
	b := AppendAck(nil, 1, 1, 1, many, 40)
	if len(b) > 40 {
		t.Fatalf("length %d > 40", len(b))
	}
	if _, rs := collect(t, b); len(rs) == 0 || rs[0] != many[0] {
		t.Fatalf("truncated ack lost its first range: %v", rs)
	}
	if got := AppendAck([]byte{1}, 1<<60, 1<<60, 1<<60, nil, 5); !bytes.Equal(got, []byte{1}) {
		t.Fatal("oversized fixed part appended")
	}
}
