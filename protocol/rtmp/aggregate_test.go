package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
)

// appendTag appends one sub-message in the aggregate layout, with
// back-pointer bp.
func appendTag(b []byte, typ protocol.Type, ts uint32, data []byte, bp uint32) []byte {
	b = append(b, byte(typ))
	b = appendUint24(b, uint32(len(data)))
	b = appendUint24(b, ts&0xFFFFFF)
	b = append(b, byte(ts>>24), 0, 0, 7) // stream ID 7, ignored
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, bp)
}

// tag appends a sub-message with a correct back-pointer.
func tag(b []byte, typ protocol.Type, ts uint32, data []byte) []byte {
	return appendTag(b, typ, ts, data, uint32(11+len(data)))
}

type splitCase struct {
	name    string
	ts      uint32
	payload []byte
	want    []protocol.Message
	wantErr error
}

func sub(typ protocol.Type, ts uint32, p []byte) protocol.Message {
	return protocol.Message{Type: typ, StreamID: 1, Timestamp: ts, Payload: p}
}

var splitCases = []splitCase{
	{
		name:    "rebased timestamps",
		ts:      5000,
		payload: tag(tag(tag(nil, protocol.TypeVideo, 1000, payload(20, 1)), protocol.TypeAudio, 1010, payload(5, 2)), protocol.TypeVideo, 1040, payload(30, 3)),
		want: []protocol.Message{
			sub(protocol.TypeVideo, 5000, payload(20, 1)),
			sub(protocol.TypeAudio, 5010, payload(5, 2)),
			sub(protocol.TypeVideo, 5040, payload(30, 3)),
		},
	},
	{
		name:    "timestamp extension byte and earlier sub-message",
		ts:      100,
		payload: tag(tag(nil, protocol.TypeVideo, 0x01000010, payload(3, 4)), protocol.TypeAudio, 0x01000008, payload(3, 5)),
		want: []protocol.Message{
			sub(protocol.TypeVideo, 100, payload(3, 4)),
			sub(protocol.TypeAudio, 92, payload(3, 5)),
		},
	},
	{
		name:    "back-pointer not checked",
		payload: appendTag(appendTag(nil, protocol.TypeAudio, 0, payload(4, 6), 4), protocol.TypeAudio, 20, payload(4, 7), 0xFFFFFFFF),
		want:    []protocol.Message{sub(protocol.TypeAudio, 0, payload(4, 6)), sub(protocol.TypeAudio, 20, payload(4, 7))},
	},
	{
		name:    "last back-pointer missing",
		payload: tag(nil, protocol.TypeAudio, 0, payload(4, 8))[:11+4],
		want:    []protocol.Message{sub(protocol.TypeAudio, 0, payload(4, 8))},
	},
	{
		name:    "type 0 ends",
		payload: append(tag(nil, protocol.TypeDataAMF0, 0, payload(4, 9)), 0, 1, 2),
		want:    []protocol.Message{sub(protocol.TypeDataAMF0, 0, payload(4, 9))},
	},
	{name: "empty", payload: nil},
	{
		name:    "truncated header",
		payload: append(tag(nil, protocol.TypeAudio, 0, payload(4, 10)), 8, 0, 0),
		want:    []protocol.Message{sub(protocol.TypeAudio, 0, payload(4, 10))},
		wantErr: ErrInvalidAggregate,
	},
	{
		name:    "truncated data",
		payload: tag(nil, protocol.TypeVideo, 0, payload(40, 11))[:30],
		wantErr: ErrInvalidAggregate,
	},
	{
		name:    "truncated back-pointer",
		payload: tag(nil, protocol.TypeVideo, 0, payload(4, 12))[:11+4+2],
		wantErr: ErrInvalidAggregate,
	},
	{
		name:    "nested aggregate",
		payload: tag(nil, protocol.TypeAggregate, 0, tag(nil, protocol.TypeVideo, 0, payload(4, 13))),
		wantErr: ErrInvalidAggregate,
	},
}

func TestSplitAggregate(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []protocol.Message
			err := SplitAggregate(protocol.Message{Type: protocol.TypeAggregate, StreamID: 1, Timestamp: tc.ts, Payload: tc.payload},
				func(m protocol.Message) error {
					got = append(got, m)
					return nil
				})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d sub-messages, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Type != w.Type || g.StreamID != w.StreamID || g.Timestamp != w.Timestamp || !bytes.Equal(g.Payload, w.Payload) {
					t.Errorf("sub-message %d = %v/%d/%d/%x, want %v/%d/%d/%x", i, g.Type, g.StreamID, g.Timestamp, g.Payload, w.Type, w.StreamID, w.Timestamp, w.Payload)
				}
				if cap(g.Payload) != len(g.Payload) {
					t.Errorf("sub-message %d payload has spare capacity %d", i, cap(g.Payload)-len(g.Payload))
				}
			}
		})
	}
}

func TestSplitAggregateStops(t *testing.T) {
	stop := errors.New("stop")
	p := tag(tag(nil, protocol.TypeAudio, 0, payload(4, 1)), protocol.TypeAudio, 0, payload(4, 2))
	n := 0
	err := SplitAggregate(protocol.Message{Type: protocol.TypeAggregate, Payload: p}, func(protocol.Message) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("err = %v after %d calls, want stop after 1", err, n)
	}
}

func FuzzSplitAggregate(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.payload)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := protocol.Message{Type: protocol.TypeAggregate, StreamID: 3, Timestamp: 1000, Payload: data}
		total := 0
		SplitAggregate(m, func(s protocol.Message) error {
			if s.StreamID != 3 || s.Type == 0 || s.Type == protocol.TypeAggregate {
				t.Fatalf("sub-message %+v", s)
			}
			total += aggregateHeaderSize + len(s.Payload)
			if total > len(data) {
				t.Fatalf("sub-messages cover %d bytes of %d", total, len(data))
			}
			return nil
		})
	})
}
