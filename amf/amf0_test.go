package amf

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// ffmpegConnect is the connect command ffmpeg sends when publishing
// (libavformat/rtmpproto.c gen_connect: app, type, flashVer, tcUrl).
var ffmpegConnect = []any{
	"connect",
	1.0,
	Object{
		{"app", "live"},
		{"type", "nonprivate"},
		{"flashVer", "FMLE/3.0 (compatible; Lavf61.7.100)"},
		{"tcUrl", "rtmp://localhost:1935/live"},
	},
}

func ffmpegConnectWire(t testing.TB) []byte {
	return wire(t,
		`02 0007`, `"connect`,
		`00 3ff0000000000000`,
		`03`,
		`0003`, `"app`, `02 0004`, `"live`,
		`0004`, `"type`, `02 000a`, `"nonprivate`,
		`0008`, `"flashVer`, `02 0023`, `"FMLE/3.0 (compatible; Lavf61.7.100)`,
		`0005`, `"tcUrl`, `02 001a`, `"rtmp://localhost:1935/live`,
		`00 00 09`,
	)
}

// flashConnect is a connect command as Flash Player sends it when playing,
// with the usual capability properties, followed by a user argument.
var flashConnect = []any{
	"connect",
	1.0,
	Object{
		{"app", "vod"},
		{"flashVer", "WIN 32,0,0,465"},
		{"swfUrl", "http://example.com/player.swf"},
		{"tcUrl", "rtmp://example.com/vod"},
		{"fpad", false},
		{"capabilities", 239.0},
		{"audioCodecs", 3575.0},
		{"videoCodecs", 252.0},
		{"videoFunction", 1.0},
		{"pageUrl", "http://example.com/"},
		{"objectEncoding", 3.0},
	},
	"user-token",
}

func flashConnectWire(t testing.TB) []byte {
	return wire(t,
		`02 0007`, `"connect`,
		`00 3ff0000000000000`,
		`03`,
		`0003`, `"app`, `02 0003`, `"vod`,
		`0008`, `"flashVer`, `02 000e`, `"WIN 32,0,0,465`,
		`0006`, `"swfUrl`, `02 001d`, `"http://example.com/player.swf`,
		`0005`, `"tcUrl`, `02 0016`, `"rtmp://example.com/vod`,
		`0004`, `"fpad`, `01 00`,
		`000c`, `"capabilities`, `00 406de00000000000`,
		`000b`, `"audioCodecs`, `00 40abee0000000000`,
		`000b`, `"videoCodecs`, `00 406f800000000000`,
		`000d`, `"videoFunction`, `00 3ff0000000000000`,
		`0007`, `"pageUrl`, `02 0013`, `"http://example.com/`,
		`000e`, `"objectEncoding`, `00 4008000000000000`,
		`00 00 09`,
		`02 000a`, `"user-token`,
	)
}

// connectResult is the _result a server sends to accept a connect.
var connectResult = []any{
	"_result",
	1.0,
	Object{{"fmsVer", "FMS/3,0,1,123"}, {"capabilities", 31.0}},
	Object{
		{"level", "status"},
		{"code", "NetConnection.Connect.Success"},
		{"description", "Connection succeeded."},
		{"objectEncoding", 0.0},
	},
}

func connectResultWire(t testing.TB) []byte {
	return wire(t,
		`02 0007`, `"_result`,
		`00 3ff0000000000000`,
		`03`,
		`0006`, `"fmsVer`, `02 000d`, `"FMS/3,0,1,123`,
		`000c`, `"capabilities`, `00 403f000000000000`,
		`00 00 09`,
		`03`,
		`0005`, `"level`, `02 0006`, `"status`,
		`0004`, `"code`, `02 001d`, `"NetConnection.Connect.Success`,
		`000b`, `"description`, `02 0015`, `"Connection succeeded.`,
		`000e`, `"objectEncoding`, `00 0000000000000000`,
		`00 00 09`,
	)
}

// onMetaData is the script data of an FLV stream (FLV spec, onMetaData),
// an ECMA array.
var onMetaData = []any{
	"onMetaData",
	ECMAArray{
		{"duration", 0.0},
		{"width", 1920.0},
		{"height", 1080.0},
		{"videocodecid", 7.0},
	},
}

func onMetaDataWire(t testing.TB) []byte {
	return wire(t,
		`02 000a`, `"onMetaData`,
		`08 00000004`,
		`0008`, `"duration`, `00 0000000000000000`,
		`0005`, `"width`, `00 409e000000000000`,
		`0006`, `"height`, `00 4090e00000000000`,
		`000c`, `"videocodecid`, `00 401c000000000000`,
		`00 00 09`,
	)
}

func TestAMF0Golden(t *testing.T) {
	tests := []struct {
		name   string
		values []any
		wire   func(testing.TB) []byte
	}{
		{"ffmpeg connect", ffmpegConnect, ffmpegConnectWire},
		{"flash connect", flashConnect, flashConnectWire},
		{"_result", connectResult, connectResultWire},
		{"onMetaData", onMetaData, onMetaDataWire},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.wire(t)
			var e Encoder
			var got []byte
			for _, v := range tt.values {
				var err error
				if got, err = e.AppendAMF0(got, v); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatal(hexDiff(got, want))
			}
			dec, err := DecodeAMF0All(want)
			if err != nil {
				t.Fatal(err)
			}
			if !equalList(dec, tt.values, true) {
				t.Fatalf("decoded %#v\nwant %#v", dec, tt.values)
			}
		})
	}
}

// TestAMF0Markers covers every AMF0 type marker the encoder writes, with the
// exact bytes from the grammar of AMF0 §2.
func TestAMF0Markers(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name string
		v    any
		wire []string
		want any // decoded value when it differs from v; decodesNull for nil
	}{
		{"number", 1.5, []string{`00 3ff8000000000000`}, nil},
		{"int", 5, []string{`00 4014000000000000`}, 5.0},
		{"uint8", uint8(1), []string{`00 3ff0000000000000`}, 1.0},
		{"float32", float32(1.5), []string{`00 3ff8000000000000`}, 1.5},
		{"NaN", math.NaN(), []string{`00 7ff8000000000001`}, nil},
		{"true", true, []string{`01 01`}, nil},
		{"false", false, []string{`01 00`}, nil},
		{"string", "hi", []string{`02 0002`, `"hi`}, nil},
		{"empty string", "", []string{`02 0000`}, nil},
		{"long string", long, []string{`0c 00011170`, `"` + long}, nil},
		{"object", Object{{"a", 1.0}}, []string{`03 0001`, `"a`, `00 3ff0000000000000 000009`}, nil},
		{"empty object", Object{}, []string{`03 000009`}, nil},
		{"map", map[string]any{"b": 1.0, "a": true}, []string{`03 0001`, `"a`, `0101 0001`, `"b`, `00 3ff0000000000000 000009`}, Object{{"a", true}, {"b", 1.0}}},
		{"null", nil, []string{`05`}, nil},
		{"undefined", Undefined{}, []string{`06`}, nil},
		{"ecma array", ECMAArray{{"a", nil}}, []string{`08 00000001 0001`, `"a`, `05 000009`}, nil},
		{"strict array", StrictArray{1.0, "x"}, []string{`0a 00000002 00 3ff0000000000000 02 0001`, `"x`}, nil},
		{"[]any", []any{true}, []string{`0a 00000001 0101`}, StrictArray{true}},
		{"date", time.UnixMilli(1000).UTC(), []string{`0b 408f400000000000 0000`}, nil},
		{"invalid date", time.Time{}, []string{`0b 7ff8000000000001 0000`}, nil},
		{"unsupported", Unsupported{}, []string{`0d`}, nil},
		{"xml document", XMLDocument("<a/>"), []string{`0f 00000004`, `"<a/>`}, nil},
		{"typed object", &TypedObject{Class: "C", Props: Object{{"x", true}}}, []string{`10 0001`, `"C`, `0001`, `"x`, `0101 000009`},
			&TypedObject{Class: "C", Props: Object{{"x", true}}, Sealed: 1}},
		{"nil typed object", (*TypedObject)(nil), []string{`05`}, decodesNull{}},
		{"xml via avmplus", XML("<b/>"), []string{`11 0b 09`, `"<b/>`}, nil},
		{"byte array via avmplus", ByteArray{1, 2}, []string{`11 0c 05 0102`}, nil},
		{"mixed array via avmplus", &MixedArray{Dense: []any{1.0}, Assoc: Object{{"k", "v"}}}, []string{`11 09 03 03`, `"k`, `06 03`, `"v`, `01 04 01`}, nil},
		{"vector via avmplus", VectorInt{Items: []int32{-1}}, []string{`11 0d 03 00 ffffffff`}, nil},
		{"long name via avmplus", Object{{strings.Repeat("k", 65536), nil}}, []string{`11 0a 0b 01 88 80 01`, `"` + strings.Repeat("k", 65536), `01 01`}, nil},
		{"long class via avmplus", &TypedObject{Class: strings.Repeat("C", 65536)}, []string{`11 0a 03 88 80 01`, `"` + strings.Repeat("C", 65536)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := wire(t, tt.wire...)
			got, err := AppendAMF0([]byte{0xAA}, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[1:], want) || got[0] != 0xAA {
				t.Fatal(hexDiff(got[1:], want))
			}
			d := NewDecoder()
			d.Reset(want)
			v, err := d.DecodeAMF0()
			if err != nil {
				t.Fatal(err)
			}
			exp := tt.want
			switch exp.(type) {
			case nil:
				exp = tt.v
			case decodesNull:
				exp = nil
			}
			if !equal(v, exp, true) {
				t.Fatalf("decoded %#v, want %#v", v, exp)
			}
			if d.Len() != 0 || d.Offset() != len(want) {
				t.Fatalf("Len %d Offset %d after decoding %d bytes", d.Len(), d.Offset(), len(want))
			}
		})
	}
}

func TestAMF0Decode(t *testing.T) {
	obj := Object{{"a", nil}}
	date := time.UnixMilli(1000).UTC()
	tests := []struct {
		name string
		wire []string
		want []any
	}{
		{"reference to object", []string{`0a 00000002 03 0001`, `"a`, `05 000009 07 0001`}, []any{StrictArray{obj, obj}}},
		// Flash counts dates and XML documents in the reference table
		// (rust-flash-lso#72, #124).
		{"reference to date", []string{`0a 00000003 0b 408f400000000000 0000 03 000009 07 0001`}, []any{StrictArray{date, Object{}, date}}},
		{"reference to xml document", []string{`0a 00000002 0f 00000001`, `"x`, `07 0001`}, []any{StrictArray{XMLDocument("x"), XMLDocument("x")}}},
		{"reference across values", []string{`03 000009 07 0000`}, []any{Object{}, Object{}}},
		{"ecma count is a hint", []string{`08 00000000 0001`, `"a`, `05 000009`}, []any{ECMAArray(obj)}},
		{"empty key before a value", []string{`03 0000 05 000009`}, []any{Object{{"", nil}}}},
		{"boolean non-zero", []string{`01 02`}, []any{true}},
		{"date time zone ignored", []string{`0b 408f400000000000 ff88`}, []any{date}},
		{"fractional date truncated", []string{`0b 408f400000000001 0000`}, []any{date}},
		{"avmplus in object", []string{`03 0001`, `"b`, `11 04 7f 000009`}, []any{Object{{"b", 127.0}}}},
		// AMF3 tables span switches within a message, as in Flash.
		{"amf3 strings across switches", []string{`11 06 05`, `"ab`, `11 06 00`}, []any{"ab", "ab"}},
		{"amf3 traits and objects across switches", []string{`11 0a 0b 01 03`, `"a`, `04 01 01 11 0a 01 03`, `"b`, `04 02 01 11 0a 00`},
			[]any{Object{{"a", 1.0}}, Object{{"b", 2.0}}, Object{{"a", 1.0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAMF0All(wire(t, tt.wire...))
			if err != nil {
				t.Fatal(err)
			}
			if !equalList(got, tt.want, true) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestAMF0DecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		wire string
		err  error
		off  int
	}{
		{"movieclip", `04`, ErrUnknownMarker, 0},
		{"recordset", `0e`, ErrUnknownMarker, 0},
		{"object end as value", `09`, ErrUnknownMarker, 0},
		{"undefined marker", `12`, ErrUnknownMarker, 0},
		{"marker in object", `03 0001 61 ff`, ErrUnknownMarker, 4},
		{"reference out of range", `07 0000`, ErrReference, 0},
		{"self reference", `03 0001 61 07 0000 000009`, ErrReference, 4},
		{"empty", ``, ErrTruncated, 0},
		{"short string", `02 0005 6162`, ErrTruncated, 5},
		{"unterminated object", `03 0001 61 05`, ErrTruncated, 5},
		{"huge strict array", `0a ffffffff 05`, ErrTruncated, 6},
		{"huge long string", `0c ffffffff 41`, ErrTruncated, 6},
		{"unregistered externalizable", `11 0a 07 07 41 42 43`, ErrExternalizable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.Reset(wire(t, tt.wire))
			_, err := d.DecodeAMF0()
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

func TestAMF0ExternalizableErrorNamesClass(t *testing.T) {
	_, err := DecodeAMF0All(wire(t, `11 0a 07 0f`, `"com.Foo`))
	if !errors.Is(err, ErrExternalizable) || !strings.Contains(err.Error(), `"com.Foo"`) {
		t.Fatalf("got %v", err)
	}
}

func TestAMF0EncodeErrors(t *testing.T) {
	long := strings.Repeat("k", 70000)
	tests := []struct {
		name string
		v    any
		err  error
	}{
		{"[]byte", []byte{1}, ErrUnsupportedType},
		{"struct", struct{}{}, ErrUnsupportedType},
		{"map of int", map[int]any{}, ErrUnsupportedType},
		{"long ecma key", ECMAArray{{long, nil}}, ErrRange},
		{"nested unsupported", StrictArray{Object{{"a", make(chan int)}}}, ErrUnsupportedType},
		{"too deep", nest(DefaultMaxDepth + 2), ErrDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte{1, 2, 3}
			got, err := AppendAMF0(b, tt.v)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if len(got) != len(b) {
				t.Fatalf("buffer grew to %d on error", len(got))
			}
		})
	}
	_, err := AppendAMF0(nil, []byte{1})
	if err == nil || !strings.Contains(err.Error(), "[]uint8") {
		t.Fatalf("error does not name the type: %v", err)
	}
}

// decodesNull marks a test value that decodes as nil.
type decodesNull struct{}

// nest returns n strict arrays nested in each other.
func nest(n int) any {
	var v any = StrictArray{}
	for i := 1; i < n; i++ {
		v = StrictArray{v}
	}
	return v
}

func TestAMF0CyclicValue(t *testing.T) {
	o := &TypedObject{Class: "Node"}
	o.Props = Object{{"self", o}}
	if _, err := AppendAMF0(nil, o); !errors.Is(err, ErrDepth) {
		t.Fatalf("got %v, want ErrDepth", err)
	}
}
