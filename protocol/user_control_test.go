package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func hexPayload(n int, v byte) string { return strings.Repeat(hex.EncodeToString([]byte{v}), n) }

var userControlCases = []struct {
	uc   UserControl
	wire string
}{
	{UserControl{Event: EventStreamBegin, StreamID: 1}, "0000 00000001"},
	{UserControl{Event: EventStreamEOF, StreamID: 2}, "0001 00000002"},
	{UserControl{Event: EventStreamDry, StreamID: 3}, "0002 00000003"},
	{UserControl{Event: EventSetBufferLength, StreamID: 1, BufferLength: 3000}, "0003 00000001 00000bb8"},
	{UserControl{Event: EventStreamIsRecorded, StreamID: 1}, "0004 00000001"},
	{UserControl{Event: EventPingRequest, Timestamp: 0xCAFEBABE}, "0006 cafebabe"},
	{UserControl{Event: EventPingResponse, Timestamp: 7}, "0007 00000007"},
	{UserControl{Event: EventBufferEmpty, StreamID: 1}, "001f 00000001"},
	{UserControl{Event: EventBufferReady, StreamID: 1}, "0020 00000001"},
	{UserControl{Event: 26}, "001a"}, // SWF verification request: no data
	{UserControl{Event: EventFlowSync, SyncID: 5, SyncCount: 2}, "0022 00000005 00000002"},
	{UserControl{Event: EventSetKeepalive, ServerKeepalive: 15000, PeerKeepalive: 10000}, "0029 00003a98 00002710"},
}

func TestUserControlRoundTrip(t *testing.T) {
	for _, tc := range userControlCases {
		want := unhex(tc.wire)
		if got := AppendUserControl([]byte{0xEE}, tc.uc); !bytes.Equal(got[1:], want) || got[0] != 0xEE {
			t.Errorf("AppendUserControl(%+v) = %x, want ee%x", tc.uc, got, want)
		}
		got, err := ParseUserControl(want)
		if err != nil || got != tc.uc {
			t.Errorf("ParseUserControl(%s) = %+v, %v; want %+v", tc.wire, got, err, tc.uc)
		}
	}
}

func TestParseUserControlTolerant(t *testing.T) {
	for _, tc := range []struct {
		wire    string
		want    UserControl
		wantErr error
	}{
		// Unknown events decode to their type; their data is ignored.
		{"001b 0101 00000000 00000000" + hexPayload(32, 1), UserControl{Event: 27}, nil},
		{"0005", UserControl{Event: 5}, nil},
		// Trailing bytes after a known event are ignored.
		{"0000 00000001 ff", UserControl{Event: EventStreamBegin, StreamID: 1}, nil},
		{"", UserControl{}, ErrShortUserControl},
		{"00", UserControl{}, ErrShortUserControl},
		{"0000 000001", UserControl{}, ErrShortUserControl},
		{"0003 00000001 0000", UserControl{}, ErrShortUserControl},
		{"0006", UserControl{}, ErrShortUserControl},
	} {
		got, err := ParseUserControl(unhex(tc.wire))
		if got != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("ParseUserControl(%s) = %+v, %v; want %+v, %v", tc.wire, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestEventTypeString(t *testing.T) {
	for e, want := range map[EventType]string{
		EventStreamBegin: "StreamBegin",
		EventPingRequest: "PingRequest",
		EventBufferReady: "BufferReady",
		26:               "Event(26)",
	} {
		if got := e.String(); got != want {
			t.Errorf("EventType(%d).String() = %q, want %q", e, got, want)
		}
	}
}

// FuzzParseUserControl: User Control payloads come from the network
// unchecked. Whatever the bytes, parsing must not panic; a payload that
// parses re-encodes to its own leading bytes (trailing bytes and the data
// of unknown events are not interpreted) and parses back to the same
// message, and one that does not is too short for its event.
func FuzzParseUserControl(f *testing.F) {
	for _, tc := range userControlCases {
		w := unhex(tc.wire)
		f.Add(w)
		f.Add(w[:len(w)-1])          // one byte short
		f.Add(append(w, 0xff, 0x00)) // trailing bytes
	}
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add(unhex("001b 0101 00000000 00000000"))
	f.Fuzz(func(t *testing.T, p []byte) {
		uc, err := ParseUserControl(p)
		if err != nil {
			if !errors.Is(err, ErrShortUserControl) {
				t.Fatalf("ParseUserControl(%x): %v, want ErrShortUserControl", p, err)
			}
			if len(p) >= 2 && len(p)-2 >= userControlDataSize(EventType(uint16(p[0])<<8|uint16(p[1]))) {
				t.Fatalf("ParseUserControl(%x) refused a long enough payload: %v", p, err)
			}
			return
		}
		enc := AppendUserControl(nil, uc)
		if !bytes.HasPrefix(p, enc) {
			t.Fatalf("ParseUserControl(%x) = %+v, which encodes to %x, not a prefix of the input", p, uc, enc)
		}
		again, err := ParseUserControl(enc)
		if err != nil || again != uc {
			t.Fatalf("re-parsing %x = %+v, %v; want %+v", enc, again, err, uc)
		}
	})
}
