package rtmp

import (
	"bytes"
	"encoding/hex"
	"strings"

	"github.com/nimbus-media/nimbus/protocol"
)

// csMessage is a message together with the chunk stream it travels on.
type csMessage struct {
	csid uint32
	m    protocol.Message
}

// goldenCase is a byte-exact chunk encoding of a message sequence. The
// Writer must produce exactly these bytes and the Reader must decode them
// back to the messages.
type goldenCase struct {
	name      string
	chunkSize uint32
	msgs      []csMessage
	wire      string // hex; spaces and newlines ignored
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// payload returns n bytes that differ from message to message.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func hexPayload(n int, seed byte) string { return hex.EncodeToString(payload(n, seed)) }

func msg(csid uint32, typ protocol.Type, sid, ts uint32, p []byte) csMessage {
	return csMessage{csid, protocol.Message{Type: typ, StreamID: sid, Timestamp: ts, Payload: p}}
}

var goldenCases = []goldenCase{
	{
		// RTMP 1.0 §5.3.2.1 example 1: type 0, type 2, then type 3 headers.
		name:      "spec example 1 audio",
		chunkSize: 128,
		msgs: []csMessage{
			msg(3, protocol.TypeAudio, 12345, 1000, payload(32, 1)),
			msg(3, protocol.TypeAudio, 12345, 1020, payload(32, 2)),
			msg(3, protocol.TypeAudio, 12345, 1040, payload(32, 3)),
			msg(3, protocol.TypeAudio, 12345, 1060, payload(32, 4)),
		},
		wire: "03 0003e8 000020 08 39300000" + hexPayload(32, 1) +
			"83 000014" + hexPayload(32, 2) +
			"c3" + hexPayload(32, 3) +
			"c3" + hexPayload(32, 4),
	},
	{
		// RTMP 1.0 §5.3.2.2 example 2: a message split into three chunks.
		name:      "spec example 2 video",
		chunkSize: 128,
		msgs:      []csMessage{msg(4, protocol.TypeVideo, 12346, 1000, payload(307, 5))},
		wire: "04 0003e8 000133 09 3a300000" + hex.EncodeToString(payload(307, 5)[:128]) +
			"c4" + hex.EncodeToString(payload(307, 5)[128:256]) +
			"c4" + hex.EncodeToString(payload(307, 5)[256:]),
	},
	{
		name:      "type 1 on length change",
		chunkSize: 128,
		msgs: []csMessage{
			msg(6, protocol.TypeVideo, 1, 0, payload(10, 6)),
			msg(6, protocol.TypeVideo, 1, 40, payload(11, 7)),
			msg(6, protocol.TypeAudio, 1, 40, payload(11, 8)),
		},
		wire: "06 000000 00000a 09 01000000" + hexPayload(10, 6) +
			"46 000028 00000b 09" + hexPayload(11, 7) +
			"46 000000 00000b 08" + hexPayload(11, 8),
	},
	{
		name:      "type 0 on stream change and backwards timestamp",
		chunkSize: 128,
		msgs: []csMessage{
			msg(5, protocol.TypeDataAMF0, 1, 100, payload(3, 9)),
			msg(5, protocol.TypeDataAMF0, 2, 200, payload(3, 10)),
			msg(5, protocol.TypeDataAMF0, 2, 150, payload(3, 11)),
		},
		wire: "05 000064 000003 12 01000000" + hexPayload(3, 9) +
			"05 0000c8 000003 12 02000000" + hexPayload(3, 10) +
			"05 000096 000003 12 02000000" + hexPayload(3, 11),
	},
	{
		name:      "two-byte basic headers",
		chunkSize: 128,
		msgs: []csMessage{
			msg(64, protocol.TypeAudio, 1, 0, payload(1, 12)),
			msg(319, protocol.TypeAudio, 1, 0, payload(1, 13)),
			msg(64, protocol.TypeAudio, 1, 10, payload(1, 14)),
		},
		wire: "00 00 000000 000001 08 01000000" + hexPayload(1, 12) +
			"00 ff 000000 000001 08 01000000" + hexPayload(1, 13) +
			"80 00 00000a" + hexPayload(1, 14),
	},
	{
		name:      "three-byte basic headers",
		chunkSize: 2,
		msgs: []csMessage{
			msg(320, protocol.TypeAudio, 1, 0, payload(3, 15)),
			msg(65599, protocol.TypeAudio, 1, 0, payload(1, 16)),
		},
		wire: "01 0001 000000 000003 08 01000000" + hexPayload(3, 15)[:4] + "c1 0001" + hexPayload(3, 15)[4:] +
			"01 ffff 000000 000001 08 01000000" + hexPayload(1, 16),
	},
	{
		// Errata §5.1: the extended timestamp repeats in the type 3
		// continuation chunks; the next message has a small delta and
		// drops it.
		name:      "extended timestamp type 0",
		chunkSize: 128,
		msgs: []csMessage{
			msg(4, protocol.TypeVideo, 1, 0x01000000, payload(200, 17)),
			msg(4, protocol.TypeVideo, 1, 0x01000028, payload(200, 18)),
		},
		wire: "04 ffffff 0000c8 09 01000000 01000000" + hex.EncodeToString(payload(200, 17)[:128]) +
			"c4 01000000" + hex.EncodeToString(payload(200, 17)[128:]) +
			"84 000028" + hex.EncodeToString(payload(200, 18)[:128]) +
			"c4" + hex.EncodeToString(payload(200, 18)[128:]),
	},
	{
		// A type 0 timestamp of exactly 0xFFFFFF is already extended.
		name:      "extended timestamp boundary",
		chunkSize: 128,
		msgs:      []csMessage{msg(3, protocol.TypeCommandAMF0, 0, 0xFFFFFF, payload(2, 19))},
		wire:      "03 ffffff 000002 14 00000000 00ffffff" + hexPayload(2, 19),
	},
	{
		// Errata §5.1: a type 3 chunk that starts a message carries the
		// extended timestamp too, and its timestamp advances by the delta.
		name:      "extended delta and type 3 new message",
		chunkSize: 128,
		msgs: []csMessage{
			msg(8, protocol.TypeAudio, 1, 5, payload(4, 20)),
			msg(8, protocol.TypeAudio, 1, 5+0x01000000, payload(4, 21)),
			msg(8, protocol.TypeAudio, 1, 5+0x02000000, payload(4, 22)),
		},
		wire: "08 000005 000004 08 01000000" + hexPayload(4, 20) +
			"88 ffffff 01000000" + hexPayload(4, 21) +
			"c8 01000000" + hexPayload(4, 22),
	},
	{
		name:      "zero-length message",
		chunkSize: 128,
		msgs: []csMessage{
			msg(3, protocol.TypeCommandAMF0, 0, 0, nil),
			msg(3, protocol.TypeCommandAMF0, 0, 0, nil),
		},
		wire: "03 000000 000000 14 00000000" + "83 000000",
	},
	{
		name:      "chunk size 1",
		chunkSize: 1,
		msgs:      []csMessage{msg(2, protocol.TypeAck, 0, 0, unhex("01020304"))},
		wire:      "02 000000 000004 03 00000000 01 c2 02 c2 03 c2 04",
	},
}

// encodeMessages writes msgs with a Writer of the given chunk size and
// returns the bytes.
func encodeMessages(chunkSize uint32, msgs []csMessage) ([]byte, error) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.SetChunkSize(chunkSize)
	for _, cm := range msgs {
		if err := w.WriteMessage(cm.csid, cm.m); err != nil {
			return nil, err
		}
	}
	err := w.Flush()
	return out.Bytes(), err
}
