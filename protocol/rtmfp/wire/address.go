package wire

import (
	"encoding/binary"
	"net/netip"
)

// Origin is the origin tag of an Address (RFC 7016 §2.1.5).
type Origin uint8

// Address origins.
const (
	OriginUnknown  Origin = 0 // unspecified
	OriginReported Origin = 1 // reported by the peer as a local interface address
	OriginObserved Origin = 2 // observed as a packet's source address
	OriginRelay    Origin = 3 // a relay, introducer or redirector
)

// Address is an Internet socket address with its origin tag.
type Address struct {
	AddrPort netip.AddrPort
	Origin   Origin
}

// AppendAddress appends the RFC 7016 §2.1.5 encoding of a. IPv4-mapped IPv6
// addresses are written as IPv4, which is what the far end expects to see;
// the zero Address is written as 0.0.0.0:0 (the "peer gone" value some
// servers send in Redirects).
func AppendAddress(b []byte, a Address) []byte {
	ip := a.AddrPort.Addr().Unmap()
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	flags := byte(a.Origin & 3)
	if ip.Is6() {
		b = append(b, flags|0x80)
		s := ip.As16()
		b = append(b, s[:]...)
	} else {
		b = append(b, flags)
		s := ip.As4()
		b = append(b, s[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.AddrPort.Port())
}

// ParseAddress decodes an Address from the start of b.
func ParseAddress(b []byte) (Address, int, error) {
	if len(b) < 1 {
		return Address{}, 0, ErrShort
	}
	flags := b[0]
	if flags&0x7c != 0 {
		return Address{}, 0, ErrAddress
	}
	origin := Origin(flags & 3)
	if flags&0x80 != 0 {
		if len(b) < 19 {
			return Address{}, 0, ErrShort
		}
		ip := netip.AddrFrom16([16]byte(b[1:17]))
		port := binary.BigEndian.Uint16(b[17:19])
		return Address{netip.AddrPortFrom(ip, port), origin}, 19, nil
	}
	if len(b) < 7 {
		return Address{}, 0, ErrShort
	}
	ip := netip.AddrFrom4([4]byte(b[1:5]))
	port := binary.BigEndian.Uint16(b[5:7])
	return Address{netip.AddrPortFrom(ip, port), origin}, 7, nil
}
