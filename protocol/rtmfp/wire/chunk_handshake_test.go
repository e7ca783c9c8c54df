package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// chunkOf appends one chunk and returns its type and payload via the reader,
// so every test goes through the same framing a receiver uses.
func chunkOf(t *testing.T, b []byte, err error) (byte, []byte) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	r := NewChunkReader(b)
	if !r.Next() {
		t.Fatalf("no chunk in %x", b)
	}
	return r.Type(), r.Payload()
}

// Worked handshake bytes of the Flash profile (IHello with URL EPD 5c 5b 0a).
func TestIHello(t *testing.T) {
	url := "rtmfp://nimbus.example:1935/live"
	epd := append([]byte{byte(len(url) + 1), 0x0a}, url...)
	tag := bytes.Repeat([]byte{7}, 16)
	b, err := AppendIHello(nil, &IHello{EPD: epd, Tag: tag})
	typ, p := chunkOf(t, b, err)
	if typ != ChunkIHello || p[0] != byte(len(epd)) {
		t.Fatalf("chunk %x", b)
	}
	c, err := ParseIHello(p)
	if err != nil || !bytes.Equal(c.EPD, epd) || !bytes.Equal(c.Tag, tag) {
		t.Fatalf("ParseIHello = %+v %v", c, err)
	}
	if _, err := ParseIHello([]byte{0x05, 1}); err == nil {
		t.Fatal("short EPD accepted")
	}
}

func TestFIHello(t *testing.T) {
	in := FIHello{EPD: []byte{0x21, 0x0f}, ReplyAddress: Address{netip.MustParseAddrPort("192.0.2.1:1935"), OriginObserved}, Tag: []byte("tagtagtagtagtag!")}
	b, err := AppendFIHello(nil, &in)
	typ, p := chunkOf(t, b, err)
	out, err := ParseFIHello(p)
	if typ != ChunkFIHello || err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("FIHello round trip %+v %v", out, err)
	}
}

func TestRHello(t *testing.T) {
	in := RHello{TagEcho: bytes.Repeat([]byte{1}, 16), Cookie: bytes.Repeat([]byte{2}, 64), Certificate: []byte{0x01, 0x0a, 0x02, 0x15, 0x02}}
	b, err := AppendRHello(nil, &in)
	typ, p := chunkOf(t, b, err)
	// 10 <tag16> 40 <cookie64> cert
	if p[0] != 0x10 || p[17] != 0x40 {
		t.Fatalf("layout %x", p[:20])
	}
	out, err := ParseRHello(p)
	if typ != ChunkRHello || err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("RHello round trip %+v %v", out, err)
	}
}

func TestRedirect(t *testing.T) {
	addrs := []Address{
		{netip.MustParseAddrPort("203.0.113.7:50123"), OriginObserved},
		{netip.MustParseAddrPort("[2001:db8::5]:1935"), OriginReported},
	}
	b, err := AppendRedirect(nil, &Redirect{TagEcho: []byte("0123456789abcdef"), Addresses: addrs})
	typ, p := chunkOf(t, b, err)
	out, err := ParseRedirect(p, nil, 8)
	if typ != ChunkRedirect || err != nil || len(out.Addresses) != 2 || out.Addresses[1] != addrs[1] {
		t.Fatalf("Redirect %+v %v", out, err)
	}
	out, _ = ParseRedirect(p, nil, 1)
	if len(out.Addresses) != 1 {
		t.Fatalf("max not honoured: %d", len(out.Addresses))
	}
}

func TestCookieChange(t *testing.T) {
	in := CookieChange{OldCookie: []byte("old"), NewCookie: []byte("newer")}
	b, err := AppendCookieChange(nil, &in)
	typ, p := chunkOf(t, b, err)
	out, err := ParseCookieChange(p)
	if typ != ChunkRHelloCookieChange || err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("CookieChange %+v %v", out, err)
	}
}

func TestIIKeyingRIKeying(t *testing.T) {
	ii := IIKeying{InitiatorSessionID: 0x01020304, CookieEcho: bytes.Repeat([]byte{9}, 64),
		Certificate: []byte{0x03, 0x1d, 0x02, 0x55}, SKIC: []byte{0x02, 0x1d, 0x02}, Signature: []byte("X")}
	b, err := AppendIIKeying(nil, &ii)
	typ, p := chunkOf(t, b, err)
	out, err := ParseIIKeying(p)
	if typ != ChunkIIKeying || err != nil || !reflect.DeepEqual(ii, out) {
		t.Fatalf("IIKeying %+v %v", out, err)
	}
	ri := RIKeying{ResponderSessionID: 7, SKRC: []byte{0x03, 0x1a, 0, 0, 0x02, 0x1e, 0}, Signature: []byte("X")}
	b, err = AppendRIKeying(nil, &ri)
	typ, p = chunkOf(t, b, err)
	out2, err := ParseRIKeying(p)
	if typ != ChunkRIKeying || err != nil || !reflect.DeepEqual(ri, out2) {
		t.Fatalf("RIKeying %+v %v", out2, err)
	}
	for _, bad := range [][]byte{{1, 2, 3}, {0, 0, 0, 1, 0x40}, {0, 0, 0, 1, 0, 0x05}} {
		if _, err := ParseIIKeying(bad); err == nil {
			t.Errorf("ParseIIKeying(%x) succeeded", bad)
		}
	}
}

func TestSmallChunks(t *testing.T) {
	typ, p := chunkOf(t, AppendBufferProbe(nil, 300), nil)
	if id, err := ParseBufferProbe(p); typ != ChunkBufferProbe || err != nil || id != 300 {
		t.Fatalf("BufferProbe %d %v", id, err)
	}
	typ, p = chunkOf(t, AppendFlowException(nil, 5, 0x1234), nil)
	if id, code, err := ParseFlowException(p); typ != ChunkFlowException || err != nil || id != 5 || code != 0x1234 {
		t.Fatalf("FlowException %d %d %v", id, code, err)
	}
	if !bytes.Equal(AppendClose(nil), []byte{0x0c, 0, 0}) || !bytes.Equal(AppendCloseAck(nil), []byte{0x4c, 0, 0}) {
		t.Fatal("close chunks")
	}
	typ, p = chunkOf(t, AppendPingReply(nil, []byte("M123")), nil)
	if typ != ChunkPingReply || string(p) != "M123" {
		t.Fatal("ping reply")
	}
}
