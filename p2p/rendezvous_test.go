package p2p

import (
	"net/netip"
	"testing"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

func TestParsePeerAddress(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"192.0.2.1:1935", "192.0.2.1:1935"},
		{"[2001:db8::5]:1935", "[2001:db8::5]:1935"},
		{"[::ffff:192.0.2.1]:5", "192.0.2.1:5"},
		{"0.0.0.0:1935", ""},
		{"192.0.2.1:0", ""},
		{"224.0.0.1:1935", ""},
		{"[fe80::1%eth0]:1935", ""},
		{"Missing port number", ""},
		{"host.example:1935", ""},
	}
	for _, tt := range tests {
		ap, err := ParsePeerAddress(tt.in)
		got := ""
		if err == nil {
			got = ap.String()
		}
		if got != tt.want {
			t.Errorf("%q: got %q (%v), want %q", tt.in, got, err, tt.want)
		}
	}
	observed := netip.MustParseAddrPort("203.0.113.7:50123")
	addrs := AppendPeerAddresses(nil, observed, []string{"203.0.113.7:50123", "10.0.0.2:5000", "10.0.0.2:5000", "junk"})
	if len(addrs) != 2 || addrs[0] != (wire.Address{AddrPort: observed, Origin: wire.OriginObserved}) ||
		addrs[1].Origin != wire.OriginReported || addrs[1].AddrPort.String() != "10.0.0.2:5000" {
		t.Fatalf("redirect addresses %+v", addrs)
	}
}
