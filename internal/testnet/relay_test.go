package testnet

import (
	"net"
	"testing"
	"time"
)

func TestRelayForwardsAndRebinds(t *testing.T) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	r, err := New(server.LocalAddr().(*net.UDPAddr).AddrPort(), Impairments{Delay: 5 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	buf := make([]byte, 100)
	exchange := func() (from string) {
		t.Helper()
		if _, err := client.WriteToUDPAddrPort([]byte("ping"), r.Addr()); err != nil {
			t.Fatal(err)
		}
		server.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, addr, err := server.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("server read %q %v", buf[:n], err)
		}
		server.WriteToUDPAddrPort([]byte("pong"), addr)
		client.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _, err := client.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("client read %q %v", buf[:n], err)
		}
		return addr.String()
	}
	a := exchange()
	if err := r.Rebind(); err != nil {
		t.Fatal(err)
	}
	if b := exchange(); a == b {
		t.Fatalf("source address unchanged after Rebind: %s", a)
	}
}
