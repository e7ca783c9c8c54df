package amf

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"
)

// decodeOne decodes a single value in the given format with d.
func decodeOne(d *Decoder, b []byte, amf3 bool) (any, error) {
	d.Reset(b)
	if amf3 {
		return d.DecodeAMF3()
	}
	return d.DecodeAMF0()
}

func TestDepthBomb(t *testing.T) {
	const n = 100000
	tests := []struct {
		name  string
		b     []byte
		amf3  bool
		limit int
	}{
		{"AMF0 strict arrays", bomb(wire(t, `0a 00000001`), n, wire(t, `05`)), false, 0},
		{"AMF0 objects", bomb(wire(t, `03 0001 61`), n, wire(t, `05`)), false, 0},
		{"AMF0 switching to AMF3", bomb(wire(t, `0a 00000001`), n/2, bomb(wire(t, `11`), 1, bomb(wire(t, `09 03 01`), n/2, wire(t, `01`)))), false, 0},
		{"AMF3 arrays", bomb(wire(t, `09 03 01`), n, wire(t, `01`)), true, 0},
		{"AMF3 objects", bomb(wire(t, `0a 0b 01 03 61`), n, wire(t, `01`)), true, 0},
		{"AMF3 dictionaries", bomb(wire(t, `11 03 00 01`), n, wire(t, `01`)), true, 0},
		{"AMF3 with a small limit", bomb(wire(t, `09 03 01`), n, wire(t, `01`)), true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			d := &Decoder{MaxDepth: tt.limit}
			start := time.Now()
			_, err := decodeOne(d, b, tt.amf3)
			if !errors.Is(err, ErrDepth) {
				t.Fatalf("got %v, want ErrDepth", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Fatalf("took %v", el)
			}
		})
	}
}

// bomb returns n copies of open followed by leaf.
func bomb(open []byte, n int, leaf []byte) []byte {
	return append(bytes.Repeat(open, n), leaf...)
}

// TestDepthLimit checks the boundary: MaxDepth nested containers inside the
// top-level value decode, one more does not, and the encoder agrees.
func TestDepthLimit(t *testing.T) {
	for _, limit := range []int{1, 5, DefaultMaxDepth} {
		for _, amf3 := range []bool{false, true} {
			ok := nest(limit + 1)
			tooDeep := nest(limit + 2)
			enc := Encoder{MaxDepth: limit}
			dec := &Decoder{MaxDepth: limit}
			appendFn := enc.AppendAMF0
			if amf3 {
				appendFn = enc.AppendAMF3
			}
			b, err := appendFn(nil, ok)
			if err != nil {
				t.Fatalf("limit %d amf3 %v: encode: %v", limit, amf3, err)
			}
			if _, err := decodeOne(dec, b, amf3); err != nil {
				t.Fatalf("limit %d amf3 %v: decode: %v", limit, amf3, err)
			}
			if _, err := appendFn(nil, tooDeep); !errors.Is(err, ErrDepth) {
				t.Fatalf("limit %d amf3 %v: encode too deep: %v", limit, amf3, err)
			}
			b, _ = (&Encoder{MaxDepth: limit + 1}).AppendAMF3(nil, tooDeep)
			if !amf3 {
				b, _ = (&Encoder{MaxDepth: limit + 1}).AppendAMF0(nil, tooDeep)
			}
			if _, err := decodeOne(dec, b, amf3); !errors.Is(err, ErrDepth) {
				t.Fatalf("limit %d amf3 %v: decode too deep: %v", limit, amf3, err)
			}
		}
	}
}

// TestDeclaredCounts feeds counts of up to 2^32 in tiny inputs and checks
// that they fail without allocating from the count.
func TestDeclaredCounts(t *testing.T) {
	tests := []struct {
		name string
		wire string
		amf3 bool
	}{
		{"AMF0 strict array", `0a ffffffff 05 05 05`, false},
		{"AMF0 long string", `0c ffffffff 41 41`, false},
		{"AMF0 xml document", `0f ffffffff 41`, false},
		{"AMF0 ecma array", `08 ffffffff 0001 61 05`, false},
		{"AMF3 array", `09 ff ff ff ff 01 01 01`, true},
		{"AMF3 sealed members", `0a ff ff ff f3 01 01 01`, true},
		{"AMF3 vector int", `0d ff ff ff ff 00 00000001`, true},
		{"AMF3 vector double", `0f ff ff ff ff 00 0000000000000000`, true},
		{"AMF3 vector object", `10 ff ff ff ff 00 01 01 01`, true},
		{"AMF3 dictionary", `11 ff ff ff ff 00 01 01`, true},
		{"AMF3 byte array", `0c ff ff ff ff 00`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := wire(t, tt.wire)
			d := NewDecoder()
			var err error
			allocated := bytesAllocated(func() { _, err = decodeOne(d, b, tt.amf3) })
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("got %v, want ErrTruncated", err)
			}
			if allocated > 64<<10 {
				t.Fatalf("allocated %d bytes for a %d-byte input", allocated, len(b))
			}
		})
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestMaxElements(t *testing.T) {
	tests := []struct {
		name string
		wire string
		amf3 bool
		max  int
		err  error
	}{
		{"AMF0 within", `0a 00000003 05 05 05`, false, 4, nil},
		{"AMF0 over", `0a 00000003 05 05 05`, false, 3, ErrTooManyElements},
		{"AMF0 object over", `03 0001 61 05 0001 62 05 000009`, false, 2, ErrTooManyElements},
		{"AMF3 within", `09 07 01 01 01 01`, true, 4, nil},
		{"AMF3 over by count", `09 07 01 01 01 01`, true, 3, ErrTooManyElements},
		{"AMF3 vector items count", `0d 05 00 00000001 00000002`, true, 2, ErrTooManyElements},
		{"AMF3 vector within", `0d 05 00 00000001 00000002`, true, 3, nil},
		{"AMF3 dictionary over", `11 05 00 01 01 01 01`, true, 4, ErrTooManyElements},
		{"AMF3 reference counts the referenced tree", `09 05 01 09 05 01 01 01 09 02`, true, 6, ErrTooManyElements},
		{"AMF3 reference within", `09 05 01 09 05 01 01 01 09 02`, true, 7, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decoder{MaxElements: tt.max}
			_, err := decodeOne(d, wire(t, tt.wire), tt.amf3)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
		})
	}
}

// TestReferenceBomb builds values where each level references the previous
// one twice: a few bytes per level, twice the tree each time. The limits
// must stop them as if the tree had been sent inline.
func TestReferenceBomb(t *testing.T) {
	const levels = 70
	amf3 := appendU29(wire(t, `09`), levels<<1|1)
	amf3 = append(amf3, wire(t, `01 09 05 01 01 01`)...)
	amf0 := wire(t, `0a 000000`, string([]byte{'"', levels}), `0a 00000002 05 05`)
	for i := 1; i < levels; i++ {
		amf3 = append(amf3, wire(t, `09 05 01 09`)...)
		amf3 = appendU29(amf3, uint32(i)<<1)
		amf3 = append(amf3, 0x09)
		amf3 = appendU29(amf3, uint32(i)<<1)
		amf0 = append(amf0, wire(t, `0a 00000002 07`)...)
		amf0 = appendU16(amf0, uint16(i))
		amf0 = append(amf0, 0x07)
		amf0 = appendU16(amf0, uint16(i))
	}
	for _, tt := range []struct {
		name string
		b    []byte
		amf3 bool
	}{{"AMF0", amf0, false}, {"AMF3", amf3, true}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeOne(NewDecoder(), tt.b, tt.amf3)
			if !errors.Is(err, ErrTooManyElements) {
				t.Fatalf("got %v, want ErrTooManyElements", err)
			}
			// With elements practically unbounded, depth still stops
			// it: level i is i+1 levels high.
			_, err = decodeOne(&Decoder{MaxElements: 1 << 62, MaxDepth: 40}, tt.b, tt.amf3)
			if !errors.Is(err, ErrDepth) {
				t.Fatalf("got %v, want ErrDepth", err)
			}
		})
	}
}

// TestTruncatedEverywhere decodes every strict prefix of single values that
// use every type: each must fail with ErrTruncated, never panic or succeed.
func TestTruncatedEverywhere(t *testing.T) {
	v := allTypes()
	b0, err := AppendAMF0(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	b3, err := AppendAMF3(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	ac := wire(t, `0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 03 01 06 03`, `"x`)
	for _, tt := range []struct {
		name string
		b    []byte
		amf3 bool
	}{{"AMF0", b0, false}, {"AMF3", b3, true}, {"externalizable", ac, true}} {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			if _, err := decodeOne(d, tt.b, tt.amf3); err != nil {
				t.Fatalf("full input: %v", err)
			}
			for i := range len(tt.b) {
				_, err := decodeOne(d, tt.b[:i], tt.amf3)
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d of %d: got %v, want ErrTruncated", i, len(tt.b), err)
				}
			}
		})
	}
}

// TestDecoderReuse checks that Reset clears the tables and that a reused
// decoder gives the same results.
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder()
	msg := wire(t, `06 05`, `"ab`, `06 00`)
	for range 3 {
		d.Reset(msg)
		for range 2 {
			if v, err := d.DecodeAMF3(); err != nil || v != "ab" {
				t.Fatalf("got %v, %v", v, err)
			}
		}
	}
	d.Reset(wire(t, `06 00`))
	if _, err := d.DecodeAMF3(); !errors.Is(err, ErrReference) {
		t.Fatalf("string table survived Reset: %v", err)
	}
	d.Reset(wire(t, `07 0000`))
	if _, err := d.DecodeAMF0(); !errors.Is(err, ErrReference) {
		t.Fatalf("AMF0 table survived Reset: %v", err)
	}
	// An error inside nested values leaves the decoder usable after Reset.
	d.Reset(wire(t, `03 0001 61 03 0001 62 12`))
	if _, err := d.DecodeAMF0(); !errors.Is(err, ErrUnknownMarker) {
		t.Fatalf("got %v", err)
	}
	d.Reset(wire(t, `03 0001 61 05 000009`))
	if v, err := d.DecodeAMF0(); err != nil || !equal(v, Object{{"a", nil}}, true) {
		t.Fatalf("after error: %#v, %v", v, err)
	}
}

func TestDecodeAMF0AllPartial(t *testing.T) {
	got, err := DecodeAMF0All(wire(t, `02 0004`, `"play`, `00 0000000000000000 12`))
	if !errors.Is(err, ErrUnknownMarker) {
		t.Fatalf("got %v", err)
	}
	if !equalList(got, []any{"play", 0.0}, true) {
		t.Fatalf("values before the error: %#v", got)
	}
}
