package rtmp

import (
	"bytes"
	"errors"
	"testing"
)

func TestControlPayloads(t *testing.T) {
	prefix := []byte{0xEE} // appending must keep what the buffer holds
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"set chunk size", AppendSetChunkSize(prefix, 4096), "ee 00001000"},
		{"set chunk size max", AppendSetChunkSize(prefix, 0x7FFFFFFF), "ee 7fffffff"},
		{"abort", AppendAbort(prefix, 6), "ee 00000006"},
		{"ack", AppendAck(prefix, 0xDEADBEEF), "ee deadbeef"},
		{"window ack size", AppendWindowAckSize(prefix, 2500000), "ee 002625a0"},
		{"set peer bandwidth", AppendSetPeerBandwidth(prefix, 2500000, LimitDynamic), "ee 002625a0 02"},
	} {
		if want := unhex(tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s: got %x, want %x", tc.name, tc.got, want)
		}
	}
}

func TestParseUint32(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    uint32
		wantErr error
	}{
		{"00001000", 4096, nil},
		{"ffffffff", 0xFFFFFFFF, nil},
		{"00000080 00", 128, nil},
		{"", 0, ErrShortPayload},
		{"000010", 0, ErrShortPayload},
	} {
		got, err := ParseUint32(unhex(tc.in))
		if got != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("ParseUint32(%s) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseSetPeerBandwidth(t *testing.T) {
	for _, tc := range []struct {
		in        string
		size      uint32
		limit     uint8
		wantError error
	}{
		{"002625a0 02", 2500000, LimitDynamic, nil},
		{"004c4b40 00", 5000000, LimitHard, nil},
		{"00000001 01 ff", 1, LimitSoft, nil},
		{"002625a0", 0, 0, ErrShortPayload},
		{"", 0, 0, ErrShortPayload},
	} {
		size, limit, err := ParseSetPeerBandwidth(unhex(tc.in))
		if size != tc.size || limit != tc.limit || !errors.Is(err, tc.wantError) {
			t.Errorf("ParseSetPeerBandwidth(%s) = %d, %d, %v; want %d, %d, %v", tc.in, size, limit, err, tc.size, tc.limit, tc.wantError)
		}
	}
}
