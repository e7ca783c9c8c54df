package wire

import (
	"bytes"
	"testing"
)

func TestHeader(t *testing.T) {
	for _, tt := range []struct {
		h   Header
		enc []byte
	}{
		// Handshake header 0x0b (TS + startup), RFC 7016 §2.2.4.
		{Header{Flags: FlagTimestamp, Mode: ModeStartup, Timestamp: 0x1234}, []byte{0x0b, 0x12, 0x34}},
		// Initiator session packet with echo: 0x8d.
		{Header{Flags: FlagTimeCritical | FlagTimestamp | FlagTimestampEcho, Mode: ModeInitiator, Timestamp: 1, TimestampEcho: 2},
			[]byte{0x8d, 0, 1, 0, 2}},
		{Header{Flags: FlagTimeCriticalReverse, Mode: ModeResponder}, []byte{0x42}},
	} {
		got := AppendHeader(nil, &tt.h)
		if !bytes.Equal(got, tt.enc) || tt.h.HeaderLen() != len(tt.enc) {
			t.Errorf("AppendHeader(%+v) = %x, want %x", tt.h, got, tt.enc)
		}
		h, rest, err := ParseHeader(append(tt.enc, 0xff))
		if err != nil || h != tt.h || len(rest) != 1 {
			t.Errorf("ParseHeader(%x) = %+v %x %v", tt.enc, h, rest, err)
		}
	}
	if _, _, err := ParseHeader([]byte{0x08}); err != ErrMode {
		t.Errorf("mode 0 accepted: %v", err)
	}
	if _, _, err := ParseHeader([]byte{0x0b, 1}); err != ErrShort {
		t.Errorf("short timestamp accepted: %v", err)
	}
}

func TestChunkReader(t *testing.T) {
	var b []byte
	b = AppendPing(b, []byte("hi"))
	b = AppendClose(b)
	b = append(b, 0x42, 0x00, 0x00) // unknown chunk: returned, caller skips
	b = append(b, 0xff, 0xff, 0xff) // padding stops parsing
	b = AppendCloseAck(b)
	r := NewChunkReader(b)
	var types []byte
	for r.Next() {
		types = append(types, r.Type())
	}
	if !bytes.Equal(types, []byte{ChunkPing, ChunkClose, 0x42}) {
		t.Fatalf("chunk types %x", types)
	}
	// A length running past the end is padding (RFC 7016 §2.2.4).
	r = NewChunkReader([]byte{0x01, 0x00, 0x05, 1, 2})
	if r.Next() {
		t.Fatal("overlong chunk returned")
	}
}

func TestEndChunkTooLong(t *testing.T) {
	b, off := BeginChunk(nil, ChunkPing)
	b = append(b, make([]byte, 70000)...)
	if _, err := EndChunk(b, off); err != ErrChunkTooLong {
		t.Fatalf("err = %v", err)
	}
}

// The flags bytes librtmfp (Flash Player's wire behaviour) takes and drops:
// it reads a timestamp from every packet, takes 0x0b alone for startup,
// and ignores the high bits of a session packet's flags.
func TestFlashAccepts(t *testing.T) {
	for _, tt := range []struct {
		flags         byte
		fromInitiator bool
		ok            bool
	}{
		{0x0b, false, true},
		{0x0f, false, false}, // startup with an echo
		{0x03, false, false}, // startup without a timestamp
		{0x89, true, true},
		{0x8d, true, true},
		{0x09, true, true},
		{0x4a, false, true},
		{0x4e, false, true},
		{0xce, false, true},
		{0x02, false, false}, // what the issue saw: no timestamp
		{0x06, false, false}, // echo but no timestamp
		{0x42, false, false},
		{0x4a, true, false}, // responder mode from the initiator
		{0x09, false, false},
		{0x08, false, false}, // mode 0
	} {
		if got := FlashAccepts(tt.flags, tt.fromInitiator); got != tt.ok {
			t.Errorf("FlashAccepts(%#02x, initiator %v) = %v, want %v", tt.flags, tt.fromInitiator, got, tt.ok)
		}
	}
}
