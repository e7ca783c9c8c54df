package amf

import (
	"strings"
	"testing"
)

// encodeAll appends values in the given format with one encoder session.
func encodeAll(tb testing.TB, e *Encoder, b []byte, values []any, amf3 bool) []byte {
	for _, v := range values {
		var err error
		if amf3 {
			b, err = e.AppendAMF3(b, v)
		} else {
			b, err = e.AppendAMF0(b, v)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// decodeAll decodes every value of a message with a reused decoder.
func decodeAll(tb testing.TB, d *Decoder, msg []byte, amf3 bool) {
	d.Reset(msg)
	for d.Len() > 0 {
		var err error
		if amf3 {
			_, err = d.DecodeAMF3()
		} else {
			_, err = d.DecodeAMF0()
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func benchmarkDecode(b *testing.B, amf3 bool) {
	msg := encodeAll(b, new(Encoder), nil, flashConnect, amf3)
	d := NewDecoder()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		decodeAll(b, d, msg, amf3)
	}
}

func benchmarkEncode(b *testing.B, amf3 bool) {
	var e Encoder
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(encodeAll(b, &e, nil, flashConnect, amf3))))
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		buf = encodeAll(b, &e, buf[:0], flashConnect, amf3)
	}
}

// BenchmarkDecodeConnect decodes a Flash Player connect command (AMF0).
func BenchmarkDecodeConnect(b *testing.B) { benchmarkDecode(b, false) }

// BenchmarkEncodeConnect encodes a Flash Player connect command (AMF0).
func BenchmarkEncodeConnect(b *testing.B) { benchmarkEncode(b, false) }

// BenchmarkDecodeConnectAMF3 decodes the same command in AMF3.
func BenchmarkDecodeConnectAMF3(b *testing.B) { benchmarkDecode(b, true) }

// BenchmarkEncodeConnectAMF3 encodes the same command in AMF3, with string
// and traits references.
func BenchmarkEncodeConnectAMF3(b *testing.B) { benchmarkEncode(b, true) }

// TestEncodeAllocs checks that encoding a command into a buffer with enough
// capacity does not allocate, in AMF0 and, once the reference tables have
// grown, in AMF3.
func TestEncodeAllocs(t *testing.T) {
	for _, amf3 := range []bool{false, true} {
		var e Encoder
		buf := make([]byte, 0, 1024)
		encodeAll(t, &e, buf, flashConnect, amf3) // grow the AMF3 tables
		allocs := testing.AllocsPerRun(100, func() {
			e.Reset()
			buf = encodeAll(t, &e, buf[:0], flashConnect, amf3)
		})
		if allocs != 0 {
			t.Errorf("amf3 %v: %v allocations per command", amf3, allocs)
		}
	}
}

// TestDecodeAllocs checks that decoding allocates only the results: the
// count does not depend on the length of the strings, and is the number of
// strings, boxed numbers and objects in the command.
func TestDecodeAllocs(t *testing.T) {
	long := make([]any, len(flashConnect))
	copy(long, flashConnect)
	obj := make(Object, len(flashConnect[2].(Object)))
	for i, p := range flashConnect[2].(Object) {
		if s, ok := p.Value.(string); ok {
			p.Value = strings.Repeat(s, 50)
		}
		obj[i] = p
	}
	long[2] = obj
	for _, amf3 := range []bool{false, true} {
		short := encodeAll(t, new(Encoder), nil, flashConnect, amf3)
		longMsg := encodeAll(t, new(Encoder), nil, long, amf3)
		d := NewDecoder()
		decodeAll(t, d, short, amf3) // grow the tables and scratch stack
		a := testing.AllocsPerRun(100, func() { decodeAll(t, d, short, amf3) })
		b := testing.AllocsPerRun(100, func() { decodeAll(t, d, longMsg, amf3) })
		if a != b {
			t.Errorf("amf3 %v: %v allocations for short strings, %v for long ones", amf3, a, b)
		}
		// "connect" (a common name: only boxed), "user-token" (bytes
		// and box), txn 1 (boxed), the object (backing array and box),
		// its 11 keys (common names: none), 5 other string values (bytes
		// and box) and 5 boxed numbers.
		const want = 1 + 2 + 1 + 2 + 0 + 5*2 + 5
		if a > want {
			t.Errorf("amf3 %v: %v allocations, want at most %d", amf3, a, want)
		}
	}
}
