package rtmfp

import (
	"net/netip"
	"sync"
	"time"
)

// MaxPacketSize is the largest datagram sent: 1200 bytes leaves room for
// IPv6 and UDP headers within the 1280-byte IPv6 minimum MTU (rtmfp-cpp's
// MAX_SESSION_PACKET_LENGTH; Flash-era peers drop larger packets).
const MaxPacketSize = 1200

// bufSize is the capacity of a pooled datagram buffer: big enough to read
// any datagram a peer might send us and to build ours with crypto overhead.
const bufSize = 2048

// packet is a pooled datagram buffer travelling from the socket to a
// session (or from a session to the socket).
type packet struct {
	buf  []byte // len = datagram length, cap = bufSize
	addr netip.AddrPort
	at   time.Time
	// plain is set for startup packets the read loop already decrypted
	// and hands to a dialing session; it aliases buf.
	plain []byte
}

var packetPool = sync.Pool{New: func() any { return &packet{buf: make([]byte, 0, bufSize)} }}

func getPacket() *packet {
	return packetPool.Get().(*packet)
}

func putPacket(p *packet) {
	if cap(p.buf) != bufSize {
		panic("rtmfp: foreign buffer returned to the packet pool")
	}
	p.buf, p.plain, p.addr = p.buf[:0], nil, netip.AddrPort{}
	packetPool.Put(p)
}
