//go:build linux && (amd64 || arm64)

package rtmfp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestGSORun(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	b := netip.MustParseAddrPort("127.0.0.1:2")
	d := func(n int, to netip.AddrPort) datagram { return datagram{b: make([]byte, n), addr: to} }
	tests := []struct {
		name string
		ds   []datagram
		want int
	}{
		{"one", []datagram{d(1200, a)}, 1},
		{"equal sizes", []datagram{d(1200, a), d(1200, a), d(1200, a)}, 3},
		{"short last", []datagram{d(1200, a), d(1200, a), d(300, a), d(1200, a)}, 3},
		{"longer second", []datagram{d(300, a), d(1200, a)}, 1},
		{"other address", []datagram{d(1200, a), d(1200, b)}, 1},
		{"byte bound", func() []datagram {
			ds := make([]datagram, 60)
			for i := range ds {
				ds[i] = d(1400, a)
			}
			return ds
		}(), gsoMaxBytes / 1400},
	}
	for _, tt := range tests {
		if got := gsoRun(tt.ds); got != tt.want {
			t.Errorf("%s: run of %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestGSOBatchArrivesAsDatagrams: a batch that goes out as segmentation
// offload messages reaches an ordinary socket as the separate datagrams,
// in order and byte for byte.
func TestGSOBatchArrivesAsDatagrams(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	s, ok := newSocket(tx).(*batchSocket)
	if !ok {
		t.Fatal("no batch socket on this platform")
	}
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	sizes := []int{1200, 1200, 1200, 700, 1200, 1200, 64}
	var ds []datagram
	for i, n := range sizes {
		ds = append(ds, datagram{b: bytes.Repeat([]byte{byte(i + 1)}, n), addr: to})
	}
	if err := s.writeBatch(ds); err != nil {
		t.Fatal(err)
	}
	if s.noGSO {
		t.Fatal("the kernel refused UDP_SEGMENT on loopback")
	}
	buf := make([]byte, 2048)
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, d := range ds {
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], d.b) {
			t.Fatalf("datagram %d: %d bytes of %d, want %d of %d", i, n, buf[0], len(d.b), d.b[0])
		}
	}
}
