package testnet

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

var (
	ip1 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	ip2 = netip.AddrFrom4([4]byte{127, 0, 0, 2})
	ip3 = netip.AddrFrom4([4]byte{127, 0, 0, 3})
)

func udpPeer(t *testing.T, ip netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := listenOn(ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// recvFrom reads one datagram or reports none within a short wait.
func recvFrom(c *net.UDPConn) (netip.AddrPort, bool) {
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, from, err := c.ReadFromUDPAddrPort(buf)
	return from, err == nil
}

// hostGot reports whether the host receives a datagram within a short wait.
func hostGot(h *Host) bool {
	select {
	case <-h.in:
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

func TestNATBehaviours(t *testing.T) {
	tests := []struct {
		name            string
		cfg             NATConfig
		samePublic      bool // one public address toward both servers
		otherHostGetsIn bool // a stranger reaches the mapping
		otherPortGetsIn bool // the server's other port reaches it
	}{
		{"full cone", NATConfig{Mapping: EndpointIndependent, Filtering: EndpointIndependent}, true, true, true},
		{"address restricted", NATConfig{Mapping: EndpointIndependent, Filtering: AddressDependent}, true, false, true},
		{"port restricted", NATConfig{Mapping: EndpointIndependent, Filtering: AddressPortDependent}, true, false, false},
		{"symmetric", NATConfig{Mapping: AddressPortDependent, Filtering: AddressPortDependent}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.PublicIP = ip3
			n := NewNAT(tt.cfg)
			defer n.Close()
			h, err := n.Host()
			if err != nil {
				t.Fatal(err)
			}
			s1, s2, s1b := udpPeer(t, ip1), udpPeer(t, ip1), udpPeer(t, ip1)
			for _, s := range []*net.UDPConn{s1, s2} {
				if _, err := h.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(addr(s))); err != nil {
					t.Fatal(err)
				}
			}
			p1, ok1 := recvFrom(s1)
			p2, ok2 := recvFrom(s2)
			if !ok1 || !ok2 {
				t.Fatal("outbound datagrams lost")
			}
			if (p1 == p2) != tt.samePublic {
				t.Fatalf("public addresses %v and %v", p1, p2)
			}
			s1.WriteToUDPAddrPort([]byte("back"), p1)
			if !hostGot(h) {
				t.Fatal("reply from the destination filtered")
			}
			stranger := udpPeer(t, ip2)
			stranger.WriteToUDPAddrPort([]byte("x"), p1)
			if got := hostGot(h); got != tt.otherHostGetsIn {
				t.Fatalf("stranger got in: %v", got)
			}
			// s1b shares s1's address, not its port.
			s1b.WriteToUDPAddrPort([]byte("x"), p1)
			if got := hostGot(h); got != tt.otherPortGetsIn {
				t.Fatalf("other port got in: %v", got)
			}
		})
	}
}

func TestNATLANAndHairpin(t *testing.T) {
	for _, hairpin := range []bool{false, true} {
		n := NewNAT(NATConfig{Mapping: EndpointIndependent, Filtering: EndpointIndependent, Hairpin: hairpin})
		a, _ := n.Host()
		b, _ := n.Host()
		// The LAN path always works between hosts of one NAT.
		b.WriteTo([]byte("lan"), net.UDPAddrFromAddrPort(a.LANAddr()))
		if !hostGot(a) {
			t.Fatal("LAN datagram lost")
		}
		// An outsider cannot reach a private address.
		out := udpPeer(t, ip1)
		out.WriteToUDPAddrPort([]byte("x"), a.LANAddr())
		if hostGot(a) {
			t.Fatal("outsider reached a private address")
		}
		// a's public address, learnt by an outside server.
		a.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(addr(out)))
		pub, _ := recvFrom(out)
		b.WriteTo([]byte("hairpin"), net.UDPAddrFromAddrPort(pub))
		if got := hostGot(a); got != hairpin {
			t.Fatalf("hairpin %v: delivered %v", hairpin, got)
		}
		n.Close()
	}
}
