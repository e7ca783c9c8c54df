package amf

import (
	"testing"
	"time"
)

// fuzzDecoder keeps fuzz iterations fast; the property holds for any limits
// because re-encoding never makes a value bigger or deeper as a tree.
func fuzzDecoder() *Decoder { return &Decoder{MaxElements: 1 << 12} }

// fuzzSeeds are the encodings used by the unit tests.
func fuzzSeeds(f *testing.F, amf3 bool) {
	appendFn := AppendAMF0
	if amf3 {
		appendFn = AppendAMF3
	}
	var values []any
	values = append(values, ffmpegConnect...)
	values = append(values, flashConnect...)
	values = append(values, connectResult...)
	values = append(values, onMetaData...)
	values = append(values, allTypes())
	for _, v := range values {
		b, err := appendFn(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if !amf3 {
		for _, w := range [][]byte{ffmpegConnectWire(f), flashConnectWire(f), connectResultWire(f), onMetaDataWire(f)} {
			f.Add(w)
		}
		f.Add(wire(f, `0a 00000003 0b 408f400000000000 0000 03 000009 07 0001`))
		f.Add(wire(f, `11 0a 0b 01 03`, `"a`, `04 01 01 11 0a 01 03`, `"b`, `04 02 01 11 0a 00`))
		return
	}
	f.Add(wire(f, `0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 05 01 04 01 04 02`))
	f.Add(wire(f, `09 05 01 0a 0b 01 03`, `"a`, `04 01 01 0a 01 00 04 02 01`))
	f.Add(wire(f, `0a 1b 01 01 04 01 03`, `"b`, `04 02 01`))
}

// allTypes is a value using every type and reference kind.
func allTypes() any {
	shared := Object{{"k", "v"}}
	return StrictArray{
		nil, Undefined{}, true, 1.0, 1.5, "s", "s", time.UnixMilli(5).UTC(), XMLDocument("<d/>"),
		Object{{"a", shared}, {"b", shared}}, ECMAArray{{"e", 1.0}},
		&TypedObject{Class: "T", Props: Object{{"x", 1.0}, {"y", 2.0}}, Dynamic: true, Sealed: 1},
		Unsupported{}, XML("<x/>"), ByteArray{1}, &MixedArray{Dense: []any{1.0}, Assoc: Object{{"m", 2.0}}},
		VectorInt{Items: []int32{1}}, VectorUint{Items: []uint32{1}}, VectorDouble{Items: []float64{1}},
		VectorObject{TypeName: "T", Items: []any{"o"}}, Dictionary{Entries: []DictEntry{{"k", 1.0}}},
	}
}

// FuzzDecodeAMF0 checks that decoding never panics and that whatever decodes
// survives re-encoding: decode(encode(v)) == v. AMF0 carries no AMF3 traits,
// so typed objects are compared by class and properties.
func FuzzDecodeAMF0(f *testing.F) {
	fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := fuzzDecoder()
		d.Reset(b)
		var values []any
		for d.Len() > 0 {
			v, err := d.DecodeAMF0()
			if err != nil {
				break
			}
			values = append(values, v)
		}
		var e Encoder
		var out []byte
		for _, v := range values {
			var err error
			if out, err = e.AppendAMF0(out, v); err != nil {
				t.Fatalf("re-encoding %#v: %v", v, err)
			}
		}
		d2 := fuzzDecoder()
		d2.Reset(out)
		for i, v := range values {
			got, err := d2.DecodeAMF0()
			if err != nil {
				t.Fatalf("decoding re-encoded value %d: %v", i, err)
			}
			if !equal(got, v, false) {
				t.Fatalf("value %d: got %#v, want %#v", i, got, v)
			}
		}
		if d2.Len() != 0 {
			t.Fatalf("%d bytes left after re-decoding", d2.Len())
		}
	})
}

// FuzzDecodeAMF3 is FuzzDecodeAMF0 for AMF3, comparing traits too.
func FuzzDecodeAMF3(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := fuzzDecoder()
		d.Reset(b)
		v, err := d.DecodeAMF3()
		if err != nil {
			return
		}
		out, err := AppendAMF3(nil, v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		d2 := fuzzDecoder()
		d2.Reset(out)
		got, err := d2.DecodeAMF3()
		if err != nil {
			t.Fatalf("decoding re-encoded value: %v", err)
		}
		if !equal(got, v, true) {
			t.Fatalf("got %#v, want %#v", got, v)
		}
		if d2.Len() != 0 {
			t.Fatalf("%d bytes left after re-decoding", d2.Len())
		}
	})
}
