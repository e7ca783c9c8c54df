package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// RFC 7016 §2.1.2 examples plus boundaries.
var vluTests = []struct {
	v   uint64
	enc []byte
}{
	{0, []byte{0x00}},
	{127, []byte{0x7f}},
	{128, []byte{0x81, 0x00}},
	{130, []byte{0x81, 0x02}},
	{139, []byte{0x81, 0x0b}},
	{16383, []byte{0xff, 0x7f}},
	{16384, []byte{0x81, 0x80, 0x00}},
	{2000000, []byte{0xfa, 0x89, 0x00}},
	{math.MaxUint64, []byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
}

func TestVLU(t *testing.T) {
	for _, tt := range vluTests {
		got := AppendVLU(nil, tt.v)
		if !bytes.Equal(got, tt.enc) {
			t.Errorf("AppendVLU(%d) = %x, want %x", tt.v, got, tt.enc)
		}
		if VLULen(tt.v) != len(tt.enc) {
			t.Errorf("VLULen(%d) = %d, want %d", tt.v, VLULen(tt.v), len(tt.enc))
		}
		v, n, err := ParseVLU(append(tt.enc, 0xaa))
		if err != nil || v != tt.v || n != len(tt.enc) {
			t.Errorf("ParseVLU(%x) = %d, %d, %v", tt.enc, v, n, err)
		}
	}
}

func TestVLUErrors(t *testing.T) {
	for _, tt := range []struct {
		in  []byte
		err error
	}{
		{nil, ErrShort},
		{[]byte{0x80}, ErrShort},
		{[]byte{0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, ErrVLUOverflow},
		{bytes.Repeat([]byte{0x80}, 11), ErrVLUOverflow},
	} {
		if _, _, err := ParseVLU(tt.in); !errors.Is(err, tt.err) {
			t.Errorf("ParseVLU(%x) error %v, want %v", tt.in, err, tt.err)
		}
	}
}

func TestOptionList(t *testing.T) {
	// Flash TC metadata + return association (RFC 7016 §2.3.11.1).
	b := AppendFlowOptions(nil, []byte("TC\x04\x00"), 2, true)
	b = AppendMarker(b)
	want := []byte{0x05, 0x00, 'T', 'C', 0x04, 0x00, 0x02, 0x0a, 0x02, 0x00}
	if !bytes.Equal(b, want) {
		t.Fatalf("options = %x, want %x", b, want)
	}
	it := OptionList(append(b, 0xee))
	var types []uint64
	for it.Next() {
		types = append(types, it.Type())
	}
	if it.Err() != nil || !it.Terminated() || len(types) != 2 || types[1] != OptionReturnAssociation {
		t.Fatalf("iteration: types %v err %v terminated %v", types, it.Err(), it.Terminated())
	}
	if !bytes.Equal(it.Rest(), []byte{0xee}) {
		t.Fatalf("rest %x", it.Rest())
	}
	if v, ok := FindOption(b, OptionMetadata); !ok || string(v) != "TC\x04\x00" {
		t.Fatalf("FindOption = %q %v", v, ok)
	}
}
