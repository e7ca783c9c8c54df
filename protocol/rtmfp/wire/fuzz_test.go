package wire

import (
	"bytes"
	"testing"
)

// parseAll runs every chunk parser over a plain packet, the way a session
// dispatches chunks, and checks the invariants parsers promise.
func parseAll(t *testing.T, pkt []byte) {
	_, body, err := ParseHeader(pkt)
	if err != nil {
		return
	}
	r := NewChunkReader(body)
	var prev UserData
	havePrev := false
	addrs := make([]Address, 0, 4)
	for r.Next() {
		p := r.Payload()
		switch r.Type() {
		case ChunkIHello:
			_, _ = ParseIHello(p)
		case ChunkFIHello:
			_, _ = ParseFIHello(p)
		case ChunkRHello:
			_, _ = ParseRHello(p)
		case ChunkRedirect:
			if rd, err := ParseRedirect(p, addrs[:0], 4); err == nil && len(rd.Addresses) > 4 {
				t.Fatal("redirect exceeded max")
			}
		case ChunkRHelloCookieChange:
			_, _ = ParseCookieChange(p)
		case ChunkIIKeying:
			_, _ = ParseIIKeying(p)
		case ChunkRIKeying:
			_, _ = ParseRIKeying(p)
		case ChunkUserData:
			c, err := ParseUserData(p)
			havePrev = err == nil
			if havePrev {
				prev = c
				b, err := AppendUserData(nil, &c)
				if err != nil {
					t.Fatal(err)
				}
				c2, err := ParseUserData(b[3:])
				if err != nil || c2.Seq != c.Seq || !bytes.Equal(c2.Data, c.Data) {
					t.Fatalf("user data round trip: %+v vs %+v (%v)", c2, c, err)
				}
			}
		case ChunkNextUserData:
			if havePrev {
				c, err := ParseNextUserData(p, &prev)
				havePrev = err == nil
				prev = c
			}
		case ChunkAckBitmap, ChunkAckRanges:
			a, err := ParseAck(r.Type(), p)
			if err != nil {
				continue
			}
			last := a.CumAck
			for i := 0; ; i++ {
				s, ok := a.Next()
				if !ok {
					break
				}
				if s.Start <= last+1 || s.End < s.Start || i > 8*len(p) {
					t.Fatalf("ack ranges not increasing: %v after %d", s, last)
				}
				last = s.End
			}
		case ChunkBufferProbe:
			_, _ = ParseBufferProbe(p)
		case ChunkFlowException:
			_, _, _ = ParseFlowException(p)
		}
	}
}

// FuzzChunks feeds arbitrary plain packets (post-decryption input) through
// the header and chunk parsers.
func FuzzChunks(f *testing.F) {
	hdr := AppendHeader(nil, &Header{Flags: FlagTimestamp, Mode: ModeInitiator, Timestamp: 1})
	seed := func(b []byte) { f.Add(append(append([]byte(nil), hdr...), b...)) }
	seed([]byte{0x10, 0x00, 0x07, 0x00, 0x02, 0x05, 0x03, 0x00, 0x01, 0x02, 0x11, 0x00, 0x04, 0x00, 0x03, 0x04, 0x05})
	seed([]byte{0x50, 0x00, 0x05, 0x05, 0x7f, 0x10, 0x79, 0x06})
	seed([]byte{0x51, 0x00, 0x07, 0x05, 0x7f, 0x10, 0x00, 0x00, 0x01, 0x83})
	for _, tt := range vluTests {
		seed(AppendBufferProbe(nil, tt.v))
	}
	b, _ := AppendUserData(nil, &UserData{FlowID: 2, Seq: 1, FSNOffset: 1, Options: AppendFlowOptions(nil, []byte("TC\x04\x00"), 2, true), Data: []byte("x")})
	seed(b)
	b, _ = AppendIIKeying(nil, &IIKeying{InitiatorSessionID: 1, CookieEcho: make([]byte, 64), Certificate: []byte{1, 0x0a}, SKIC: []byte{2, 0x1d, 2}, Signature: []byte("X")})
	seed(b)
	b, _ = AppendRedirect(nil, &Redirect{TagEcho: make([]byte, 16), Addresses: []Address{{}}})
	seed(b)
	f.Fuzz(func(t *testing.T, pkt []byte) { parseAll(t, pkt) })
}

// BenchmarkUserDataRoundTrip measures the per-fragment encode and decode cost
// on the data path.
func BenchmarkUserDataRoundTrip(b *testing.B) {
	data := make([]byte, 1100)
	buf := make([]byte, 0, 1200)
	c := UserData{FlowID: 3, Seq: 1000, FSNOffset: 20, Data: data}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		out, _ := AppendUserData(buf[:0], &c)
		if _, err := ParseUserData(out[3:]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWireAllocs(t *testing.T) {
	data := make([]byte, 1000)
	buf := make([]byte, 0, 1200)
	ranges := []SeqRange{{18, 18}, {21, 24}, {100, 200}}
	n := testing.AllocsPerRun(100, func() {
		out, _ := AppendUserData(buf[:0], &UserData{FlowID: 3, Seq: 9, FSNOffset: 1, Data: data})
		_, _ = ParseUserData(out[3:])
		out = AppendAck(buf[:0], 3, 100, 16, ranges, 0)
		a, _ := ParseAck(out[0], out[3:])
		for {
			if _, ok := a.Next(); !ok {
				break
			}
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per encode/decode", n)
	}
}
