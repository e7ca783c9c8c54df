package wire

import (
	"bytes"
	"testing"
)

// RFC 7016 §2.3.12 Figure 3: sequential messages using Next User Data.
func TestUserDataFigure3(t *testing.T) {
	want := []byte{
		0x10, 0x00, 0x07, 0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02,
		0x11, 0x00, 0x04, 0x00, 0x03, 0x04, 0x05,
		0x11, 0x00, 0x04, 0x00, 0x06, 0x07, 0x08,
	}
	var b []byte
	var err error
	b, err = AppendUserData(b, &UserData{FlowID: 2, Seq: 5, FSNOffset: 3, Data: []byte{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = AppendNextUserData(b, &UserData{FlowID: 2, Seq: 6, FSNOffset: 4, Data: []byte{3, 4, 5}})
	b, _ = AppendNextUserData(b, &UserData{FlowID: 2, Seq: 7, FSNOffset: 5, Data: []byte{6, 7, 8}})
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding %x\nwant     %x", b, want)
	}
	r := NewChunkReader(b)
	var prev UserData
	seq := uint64(5)
	for r.Next() {
		var c UserData
		if r.Type() == ChunkUserData {
			c, err = ParseUserData(r.Payload())
		} else {
			c, err = ParseNextUserData(r.Payload(), &prev)
		}
		if err != nil || c.FlowID != 2 || c.Seq != seq || c.FSN() != 2 || len(c.Data) != 3 {
			t.Fatalf("chunk %d: %+v %v", seq, c, err)
		}
		prev = c
		seq++
	}
}

func TestUserDataOptions(t *testing.T) {
	opts := AppendFlowOptions(nil, []byte("TC\x04\x00"), 2, true)
	in := UserData{FlowID: 3, Seq: 1, FSNOffset: 1, Fragment: FragmentBegin, Final: true, Options: opts, Data: []byte("payload")}
	b, err := AppendUserData(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != UserDataOverhead(&in)+len(in.Data) {
		t.Fatalf("overhead %d, encoded %d", UserDataOverhead(&in), len(b)-len(in.Data))
	}
	if b[3] != 0x91 {
		t.Fatalf("flags %#x, want 0x91", b[3])
	}
	out, err := ParseUserData(b[3:])
	if err != nil || !bytes.Equal(out.Options, opts) || string(out.Data) != "payload" || out.Fragment != FragmentBegin || !out.Final {
		t.Fatalf("ParseUserData = %+v %v", out, err)
	}
}

func TestUserDataInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"seq zero", []byte{0x00, 0x02, 0x00, 0x00}},
		{"fsn offset beyond seq", []byte{0x00, 0x02, 0x01, 0x02}},
		{"zero offset without abandon", []byte{0x00, 0x02, 0x05, 0x00}},
		{"unterminated options", []byte{0x80, 0x02, 0x05, 0x01, 0x03, 0x00, 0x41}},
		{"truncated vlu", []byte{0x00, 0x82}},
	} {
		if _, err := ParseUserData(tt.p); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	// An FSN update: abandoned, offset 0 (RFC 7016 §3.6.2.7.1).
	c, err := ParseUserData([]byte{0x02, 0x03, 0x3c, 0x00})
	if err != nil || !c.Abandon || c.FSN() != 60 {
		t.Fatalf("FSN update %+v %v", c, err)
	}
}
