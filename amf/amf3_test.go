package amf

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestU29 checks the boundaries of the table in AMF3 §1.3.1.
func TestU29(t *testing.T) {
	tests := []struct {
		v    uint32
		wire string
	}{
		{0, `00`},
		{0x7f, `7f`},
		{0x80, `81 00`},
		{0x3fff, `ff 7f`},
		{0x4000, `81 80 00`},
		{0x1fffff, `ff ff 7f`},
		{0x200000, `80 c0 80 00`},
		{0x1fffffff, `ff ff ff ff`},
	}
	for _, tt := range tests {
		want := wire(t, tt.wire)
		if got := appendU29(nil, tt.v); !bytes.Equal(got, want) {
			t.Errorf("appendU29(%#x) = % x, want % x", tt.v, got, want)
		}
		var d Decoder
		d.Reset(want)
		if got, err := d.readU29(); err != nil || got != tt.v || d.Len() != 0 {
			t.Errorf("readU29(% x) = %#x, %v", want, got, err)
		}
	}
}

func TestAMF3Markers(t *testing.T) {
	date := time.UnixMilli(1000).UTC()
	tests := []struct {
		name string
		v    any
		wire []string
		want any // decoded value when it differs from v
	}{
		{"undefined", Undefined{}, []string{`00`}, nil},
		{"unsupported", Unsupported{}, []string{`00`}, Undefined{}},
		{"null", nil, []string{`01`}, nil},
		{"false", false, []string{`02`}, nil},
		{"true", true, []string{`03`}, nil},
		{"integral double", 1.0, []string{`04 01`}, nil},
		{"int", 300, []string{`04 82 2c`}, 300.0},
		{"int8", int8(-1), []string{`04 ff ff ff ff`}, -1.0},
		{"int29 max", int32(1<<28 - 1), []string{`04 bf ff ff ff`}, float64(1<<28 - 1)},
		{"int29 min", int64(-1 << 28), []string{`04 c0 80 80 00`}, float64(-1 << 28)},
		{"int29 max+1", 1 << 28, []string{`05 41b0000000000000`}, float64(1 << 28)},
		{"float int29 max+1", float64(1 << 28), []string{`05 41b0000000000000`}, nil},
		{"uint64 max", uint64(math.MaxUint64), []string{`05 43f0000000000000`}, float64(math.MaxUint64)},
		{"uint16", uint16(65535), []string{`04 83 ff 7f`}, 65535.0},
		{"float32", float32(0.5), []string{`05 3fe0000000000000`}, 0.5},
		{"double", 1.5, []string{`05 3ff8000000000000`}, nil},
		{"negative zero", math.Copysign(0, -1), []string{`05 8000000000000000`}, nil},
		{"NaN", math.NaN(), []string{`05 7ff8000000000001`}, nil},
		{"string", "hi", []string{`06 05`, `"hi`}, nil},
		{"empty string", "", []string{`06 01`}, nil},
		{"xml document", XMLDocument("<a/>"), []string{`07 09`, `"<a/>`}, nil},
		{"date", date, []string{`08 01 408f400000000000`}, nil},
		{"strict array", StrictArray{1.0}, []string{`09 03 01 04 01`}, nil},
		{"[]any", []any{}, []string{`09 01 01`}, StrictArray{}},
		{"mixed array", &MixedArray{Dense: []any{true}, Assoc: Object{{"k", "v"}}}, []string{`09 03 03`, `"k`, `06 03`, `"v`, `01 03`}, nil},
		{"ecma array", ECMAArray{{"k", 1.0}}, []string{`09 01 03`, `"k`, `04 01 01`}, &MixedArray{Assoc: Object{{"k", 1.0}}}},
		{"object", Object{{"a", 1.0}}, []string{`0a 0b 01 03`, `"a`, `04 01 01`}, nil},
		{"map", map[string]any{"b": 2, "a": 1}, []string{`0a 0b 01 03`, `"a`, `04 01 03`, `"b`, `04 02 01`}, Object{{"a", 1.0}, {"b", 2.0}}},
		{"object with empty key", Object{{"", 1.0}, {"b", 2.0}}, []string{`0a 1b 01 01 04 01 03`, `"b`, `04 02 01`}, nil},
		{"sealed typed object", &TypedObject{Class: "C", Props: Object{{"x", 1.0}}}, []string{`0a 13 03`, `"C`, `03`, `"x`, `04 01`},
			&TypedObject{Class: "C", Props: Object{{"x", 1.0}}, Sealed: 1}},
		{"dynamic typed object", &TypedObject{Class: "C", Props: Object{{"x", 1.0}, {"y", 2.0}}, Dynamic: true, Sealed: 1},
			[]string{`0a 1b 03`, `"C`, `03`, `"x`, `04 01 03`, `"y`, `04 02 01`}, nil},
		{"xml", XML("<b/>"), []string{`0b 09`, `"<b/>`}, nil},
		{"byte array", ByteArray{1, 2}, []string{`0c 05 01 02`}, nil},
		{"vector int", VectorInt{Fixed: true, Items: []int32{1, -1}}, []string{`0d 05 01 00000001 ffffffff`}, nil},
		{"vector uint", VectorUint{Items: []uint32{math.MaxUint32}}, []string{`0e 03 00 ffffffff`}, nil},
		{"vector double", VectorDouble{Items: []float64{1.5}}, []string{`0f 03 00 3ff8000000000000`}, nil},
		{"vector object", VectorObject{TypeName: "String", Items: []any{"a"}}, []string{`10 03 00 0d`, `"String`, `06 03`, `"a`}, nil},
		{"dictionary", Dictionary{WeakKeys: true, Entries: []DictEntry{{"k", 1.0}}}, []string{`11 03 01 06 03`, `"k`, `04 01`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := wire(t, tt.wire...)
			got, err := AppendAMF3([]byte{0xAA}, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[1:], want) || got[0] != 0xAA {
				t.Fatal(hexDiff(got[1:], want))
			}
			d := NewDecoder()
			d.Reset(want)
			v, err := d.DecodeAMF3()
			if err != nil {
				t.Fatal(err)
			}
			exp := tt.want
			if exp == nil {
				exp = tt.v
			}
			if !equal(v, exp, true) {
				t.Fatalf("decoded %#v, want %#v", v, exp)
			}
			if d.Len() != 0 {
				t.Fatalf("%d bytes left", d.Len())
			}
		})
	}
}

func TestAMF3EncodeReferences(t *testing.T) {
	shared := Object{{"a", 1.0}}
	mixed := &MixedArray{Dense: []any{1.0}}
	typed := func(x float64) *TypedObject {
		return &TypedObject{Class: "P", Props: Object{{"x", x}}}
	}
	tests := []struct {
		name string
		v    any
		wire []string
	}{
		{"string", StrictArray{"ab", "ab", ""}, []string{`09 07 01 06 05`, `"ab`, `06 00 06 01`}},
		{"member name and value share the table", Object{{"ab", "ab"}}, []string{`0a 0b 01 05`, `"ab`, `06 00 01`}},
		{"anonymous traits", StrictArray{Object{{"a", 1.0}}, Object{{"a", 2.0}}}, []string{`09 05 01 0a 0b 01 03`, `"a`, `04 01 01 0a 01 00 04 02 01`}},
		{"typed traits", StrictArray{typed(1), typed(2)}, []string{`09 05 01 0a 13 03`, `"P`, `03`, `"x`, `04 01 0a 01 04 02`}},
		{"object identity", StrictArray{shared, shared}, []string{`09 05 01 0a 0b 01 03`, `"a`, `04 01 01 0a 02`}},
		{"slots for dates and xml", StrictArray{time.UnixMilli(0).UTC(), XML(""), shared, shared},
			[]string{`09 09 01 08 01 0000000000000000 0b 01 0a 0b 01 03`, `"a`, `04 01 01 0a 06`}},
		{"mixed array identity", StrictArray{mixed, mixed}, []string{`09 05 01 09 03 01 04 01 09 02`}},
		{"byte array identity", func() any { b := ByteArray{7}; return StrictArray{b, b} }(), []string{`09 05 01 0c 03 07 0c 02`}},
		{"vector identity keeps flags apart", func() any {
			items := []int32{1}
			return StrictArray{VectorInt{Items: items}, VectorInt{Items: items}, VectorInt{Fixed: true, Items: items}}
		}(), []string{`09 07 01 0d 03 00 00000001 0d 02 0d 03 01 00000001`}},
		{"empty objects are not shared", StrictArray{Object{}, Object{}}, []string{`09 05 01 0a 0b 01 01 0a 01 01`}},
		{"cycle", func() any {
			n := &TypedObject{Class: "N", Dynamic: true}
			n.Props = Object{{"next", n}}
			return n
		}(), []string{`0a 0b 03`, `"N`, `09`, `"next`, `0a 00 01`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := wire(t, tt.wire...)
			got, err := AppendAMF3(nil, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal(hexDiff(got, want))
			}
		})
	}
}

// TestEncoderSession checks that tables span calls and AMF0 switches until
// Reset, mirroring the decoder.
func TestEncoderSession(t *testing.T) {
	var e Encoder
	m := &MixedArray{Dense: []any{"ab"}, Assoc: Object{{"k", "ab"}}}
	var b []byte
	for _, v := range []any{"cmd", XML("ab"), m, m} {
		var err error
		if b, err = e.AppendAMF0(b, v); err != nil {
			t.Fatal(err)
		}
	}
	want := wire(t, `02 0003`, `"cmd`, `11 0b 05`, `"ab`, `11 09 03 03`, `"k`, `06 05`, `"ab`, `01 06 02 11 09 02`)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
	dec, err := DecodeAMF0All(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != 4 || dec[2].(*MixedArray) != dec[3].(*MixedArray) {
		t.Fatalf("decoded %#v", dec)
	}

	b, _ = e.AppendAMF3(b[:0], "ab")
	if !bytes.Equal(b, wire(t, `06 02`)) {
		t.Fatalf("string not referenced across calls: % x", b)
	}
	e.Reset()
	b, _ = e.AppendAMF3(b[:0], "ab")
	if !bytes.Equal(b, wire(t, `06 05`, `"ab`)) {
		t.Fatalf("table not cleared by Reset: % x", b)
	}
}

// TestEncoderErrorRollback checks that a failed call leaves no table entries
// for values that were never sent, so later references stay valid. In AMF0
// the failing value reaches the AMF3 tables through a MixedArray.
func TestEncoderErrorRollback(t *testing.T) {
	shared := Object{{"a", "x"}}
	mixed := &MixedArray{Dense: []any{"d"}, Assoc: Object{{"m", "y"}}}
	good := StrictArray{"first", shared}
	bad := StrictArray{"second", mixed, Object{{"b", "y"}}, shared, &TypedObject{Class: "C"}, make(chan int)}
	after := StrictArray{"second", mixed, "y", shared, &TypedObject{Class: "C"}}
	for _, amf3 := range []bool{false, true} {
		var e Encoder
		msg := encodeAll(t, &e, nil, []any{good}, amf3)
		n := len(msg)
		appendFn := e.AppendAMF0
		if amf3 {
			appendFn = e.AppendAMF3
		}
		msg, err := appendFn(msg, bad)
		if !errors.Is(err, ErrUnsupportedType) || len(msg) != n {
			t.Fatalf("amf3 %v: got %v and %d bytes", amf3, err, len(msg))
		}
		msg = encodeAll(t, &e, msg, []any{after}, amf3)
		d := NewDecoder()
		d.Reset(msg)
		for i, want := range []any{good, after} {
			var got any
			if amf3 {
				got, err = d.DecodeAMF3()
			} else {
				got, err = d.DecodeAMF0()
			}
			if err != nil || !equal(got, want, false) {
				t.Fatalf("amf3 %v: value %d: %#v, %v", amf3, i, got, err)
			}
		}
	}
}

func TestAMF3Decode(t *testing.T) {
	tests := []struct {
		name string
		wire []string
		want any
	}{
		{"integer sign extension", []string{`04 ff ff ff fe`}, -2.0},
		{"integer max", []string{`04 bf ff ff ff`}, float64(1<<28 - 1)},
		{"non-canonical U29", []string{`04 80 80 01`}, 1.0},
		{"string reference", []string{`09 05 01 06 05`, `"ab`, `06 00`}, StrictArray{"ab", "ab"}},
		{"object reference", []string{`09 05 01 0a 0b 01 01 0a 02`}, StrictArray{Object{}, Object{}}},
		{"date reference", []string{`09 05 01 08 01 408f400000000000 08 02`}, StrictArray{time.UnixMilli(1000).UTC(), time.UnixMilli(1000).UTC()}},
		{"invalid date", []string{`08 01 7ff0000000000000`}, time.Time{}},
		{"anonymous sealed members come first", []string{`0a 1b 01 03`, `"a`, `04 01 03`, `"b`, `04 02 01`}, Object{{"a", 1.0}, {"b", 2.0}}},
		{"anonymous not dynamic", []string{`0a 13 01 03`, `"a`, `04 01`}, Object{{"a", 1.0}}},
		{"array collection", []string{`0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 05 01 04 01 04 02`}, StrictArray{1.0, 2.0}},
		{"object proxy", []string{`0a 07 3b`, `"flex.messaging.io.ObjectProxy`, `0a 0b 01 03`, `"a`, `04 01 01`}, Object{{"a", 1.0}}},
		{"externalizable traits reference", []string{`09 05 01 0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 01 01 0a 01 09 01 01`},
			StrictArray{StrictArray{}, StrictArray{}}},
		{"externalizable object reference", []string{`09 05 01 0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 03 01 03 0a 02`},
			StrictArray{StrictArray{true}, StrictArray{true}}},
		{"vector object any", []string{`10 05 01 01 01 06 03`, `"x`}, VectorObject{Fixed: true, Items: []any{nil, "x"}}},
		{"dictionary object keys", []string{`11 05 00 0a 0b 01 01 03 0a 02 02`}, Dictionary{Entries: []DictEntry{{Object{}, true}, {Object{}, false}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.Reset(wire(t, tt.wire...))
			got, err := d.DecodeAMF3()
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, tt.want, true) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
			if d.Len() != 0 {
				t.Fatalf("%d bytes left", d.Len())
			}
		})
	}
}

func TestAMF3DecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []string
		err  error
		off  int
	}{
		{"unknown marker", []string{`12`}, ErrUnknownMarker, 0},
		{"string reference out of range", []string{`06 02`}, ErrReference, 1},
		{"object reference out of range", []string{`0a 00`}, ErrReference, 0},
		{"traits reference out of range", []string{`0a 05`}, ErrReference, 0},
		{"self reference", []string{`0a 0b 01 03`, `"a`, `0a 00 01`}, ErrReference, 5},
		{"unregistered externalizable", []string{`0a 07 07`, `"Foo`}, ErrExternalizable, 0},
		{"truncated U29", []string{`04 ff ff`}, ErrTruncated, 3},
		{"truncated double", []string{`05 00`}, ErrTruncated, 2},
		{"huge string", []string{`06 ff ff ff ff`}, ErrTruncated, 5},
		{"huge array", []string{`09 ff ff ff ff 01`}, ErrTruncated, 6},
		{"huge vector", []string{`0f ff ff ff ff 00 00`}, ErrTruncated, 7},
		{"huge object vector", []string{`10 ff ff ff ff 00 01`}, ErrTruncated, 7},
		{"huge dictionary", []string{`11 ff ff ff ff 00`}, ErrTruncated, 6},
		{"huge sealed count", []string{`0a ff ff ff f3 01`}, ErrTruncated, 6},
		{"huge byte array", []string{`0c ff ff ff ff`}, ErrTruncated, 5},
		{"huge xml", []string{`0b ff ff ff ff`}, ErrTruncated, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.Reset(wire(t, tt.wire...))
			_, err := d.DecodeAMF3()
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset != tt.off {
				t.Fatalf("error %v: want offset %d", err, tt.off)
			}
		})
	}
}

func TestExternalizable(t *testing.T) {
	point := wire(t, `0a 07 13`, `"com.Point`, `0000000a 04 05`)
	errBody := errors.New("bad point")
	tests := []struct {
		name     string
		register func(d *Decoder)
		want     any
		err      error
	}{
		{"unregistered", func(*Decoder) {}, nil, ErrExternalizable},
		{"raw and AMF body", func(d *Decoder) {
			d.RegisterExternalizable("com.Point", func(d *Decoder) (any, error) {
				b, err := d.ReadBytes(4)
				if err != nil {
					return nil, err
				}
				y, err := d.DecodeAMF3()
				x := float64(be32(b))
				return StrictArray{x, y}, err
			})
		}, StrictArray{10.0, 5.0}, nil},
		{"reader error is wrapped", func(d *Decoder) {
			d.RegisterExternalizable("com.Point", func(*Decoder) (any, error) { return nil, errBody })
		}, nil, errBody},
		{"unregistered again", func(d *Decoder) {
			d.RegisterExternalizable("com.Point", func(*Decoder) (any, error) { return nil, nil })
			d.RegisterExternalizable("com.Point", nil)
		}, nil, ErrExternalizable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			tt.register(d)
			d.Reset(point)
			got, err := d.DecodeAMF3()
			if !errors.Is(err, tt.err) {
				t.Fatalf("got error %v, want %v", err, tt.err)
			}
			if err == nil && !equal(got, tt.want, true) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if tt.err == ErrExternalizable && !strings.Contains(err.Error(), `"com.Point"`) {
				t.Fatalf("error does not name the class: %v", err)
			}
		})
	}
	d := NewDecoder()
	d.RegisterExternalizable("flex.messaging.io.ArrayCollection", nil)
	d.Reset(wire(t, `0a 07 43`, `"flex.messaging.io.ArrayCollection`, `09 01 01`))
	if _, err := d.DecodeAMF3(); !errors.Is(err, ErrExternalizable) {
		t.Fatalf("default not unregistered: %v", err)
	}
	if _, err := d.ReadBytes(-1); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("ReadBytes(-1): %v", err)
	}
}

func TestAMF3EncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		v    any
		err  error
	}{
		{"[]byte", []byte{1}, ErrUnsupportedType},
		{"pointer", new(int), ErrUnsupportedType},
		{"sealed beyond props", &TypedObject{Class: "C", Dynamic: true, Sealed: 1}, ErrInvalidValue},
		{"negative sealed", &TypedObject{Class: "C", Dynamic: true, Sealed: -1}, ErrInvalidValue},
		{"empty dynamic name", &TypedObject{Class: "C", Dynamic: true, Props: Object{{"", 1}}}, ErrInvalidValue},
		{"empty assoc key", &MixedArray{Assoc: Object{{"", 1}}}, ErrInvalidValue},
		{"empty ecma key", ECMAArray{{"", 1}}, ErrInvalidValue},
		{"nested", Dictionary{Entries: []DictEntry{{Key: 1, Value: struct{}{}}}}, ErrUnsupportedType},
		{"too deep", nest(DefaultMaxDepth + 2), ErrDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte{9}
			got, err := AppendAMF3(b, tt.v)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if len(got) != len(b) {
				t.Fatalf("buffer grew to %d on error", len(got))
			}
		})
	}
	e := Encoder{MaxDepth: 2}
	if _, err := e.AppendAMF3(nil, nest(3)); err != nil {
		t.Fatalf("depth 2: %v", err)
	}
	if _, err := e.AppendAMF3(nil, nest(4)); !errors.Is(err, ErrDepth) {
		t.Fatalf("depth 3: %v", err)
	}
}

// TestRoundTrip encodes a value using every type and reference kind and
// decodes it back, in AMF3 and in AMF0.
func TestRoundTrip(t *testing.T) {
	shared := Object{{"k", "shared"}}
	v := StrictArray{
		nil, Undefined{}, true, false, 0.0, -1.0, 1e300, math.Inf(-1), "", "str", "str",
		time.UnixMilli(1700000000000).UTC(), time.Time{},
		XMLDocument("<d/>"), XML("<x/>"), ByteArray{0, 1, 2},
		Object{{"a", 1.0}, {"b", Object{{"c", StrictArray{}}}}},
		&TypedObject{Class: "T", Props: Object{{"s", "v"}, {"d", 2.0}}, Dynamic: true, Sealed: 1},
		&MixedArray{Dense: []any{1.0, 2.0}, Assoc: Object{{"x", "y"}}},
		VectorInt{Items: []int32{math.MinInt32, math.MaxInt32}},
		VectorUint{Fixed: true, Items: []uint32{0, math.MaxUint32}},
		VectorDouble{Items: []float64{math.Pi}},
		VectorObject{TypeName: "T", Items: []any{shared}},
		Dictionary{Entries: []DictEntry{{Key: shared, Value: "by object"}, {Key: 1.0, Value: nil}}},
		shared, shared,
	}
	t.Run("AMF3", func(t *testing.T) {
		b, err := AppendAMF3(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder()
		d.Reset(b)
		got, err := d.DecodeAMF3()
		if err != nil {
			t.Fatal(err)
		}
		if !equal(got, v, true) {
			t.Fatalf("got %#v\nwant %#v", got, v)
		}
	})
	t.Run("AMF0", func(t *testing.T) {
		b, err := AppendAMF0(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAMF0All(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !equal(got[0], v, false) {
			t.Fatalf("got %#v\nwant %#v", got, v)
		}
	})
}
