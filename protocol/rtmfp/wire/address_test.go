package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// Examples from the profile reference (RFC 7016 §2.1.5 layout).
func TestAddress(t *testing.T) {
	for _, tt := range []struct {
		a   Address
		enc []byte
	}{
		{Address{netip.MustParseAddrPort("203.0.113.7:50123"), OriginObserved}, []byte{0x02, 0xcb, 0x00, 0x71, 0x07, 0xc3, 0xcb}},
		{Address{netip.MustParseAddrPort("[2001:db8::5]:1935"), OriginReported},
			[]byte{0x81, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x07, 0x8f}},
		{Address{netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), OriginUnknown}, []byte{0x00, 10, 0, 0, 1, 0, 1}},
	} {
		got := AppendAddress(nil, tt.a)
		if !bytes.Equal(got, tt.enc) {
			t.Errorf("AppendAddress(%v) = %x, want %x", tt.a, got, tt.enc)
		}
		a, n, err := ParseAddress(tt.enc)
		if err != nil || n != len(tt.enc) || a.Origin != tt.a.Origin || a.AddrPort.Port() != tt.a.AddrPort.Port() ||
			a.AddrPort.Addr() != tt.a.AddrPort.Addr().Unmap() {
			t.Errorf("ParseAddress(%x) = %v %d %v", tt.enc, a, n, err)
		}
	}
	for _, bad := range [][]byte{{}, {0x02, 1, 2}, {0x80, 1}, {0x04, 1, 2, 3, 4, 5, 6}} {
		if _, _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%x) succeeded", bad)
		}
	}
}
