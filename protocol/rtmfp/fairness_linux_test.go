//go:build linux

package rtmfp

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/netns"
)

// TestSharesBottleneckWithTCP: an RTMFP bulk flow and a TCP bulk transfer
// through the same 20 Mbit/s link (two network namespaces, tc tbf) each
// get a fair part of it: RTMFP's congestion control is TCP-compatible
// (RFC 7016 §3.5.2), neither starving TCP nor starved by it.
func TestSharesBottleneckWithTCP(t *testing.T) {
	if why := netns.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the fairness test needs network namespaces: %s", why)
		}
		t.Skip(why)
	}
	if testing.Short() {
		t.Skip("12-second network test")
	}
	leakCheck(t)
	link := netns.New(t, "20mbit", "50ms")

	var serverConn, clientConn net.PacketConn
	var tcpLn net.Listener
	var err error
	link.InB(t, func() {
		if serverConn, err = net.ListenPacket("udp4", link.AddrB+":0"); err != nil {
			return
		}
		tcpLn, err = net.Listen("tcp4", link.AddrB+":0")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tcpLn.Close()
	link.InA(t, func() { clientConn, err = net.ListenPacket("udp4", link.AddrA+":0") })
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewEndpoint(serverConn, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := NewEndpoint(clientConn, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	ss, cs := connect(t, server, client, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer cs.Close()
	defer ss.Close()

	var tcpConn net.Conn
	link.InA(t, func() { tcpConn, err = net.Dial("tcp4", tcpLn.Addr().String()) })
	if err != nil {
		t.Fatal(err)
	}
	defer tcpConn.Close()
	tcpPeer, err := tcpLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer tcpPeer.Close()

	var counting atomic.Bool
	var mfpBytes, tcpBytes atomic.Int64
	run, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { // RTMFP sender
		defer wg.Done()
		f, err := cs.OpenFlow([]byte("bulk"), FlowOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		msg := make([]byte, 1100)
		for run.Err() == nil {
			if err := f.WriteContext(run, msg, WriteOptions{}); err != nil {
				return
			}
		}
	}()
	go func() { // RTMFP receiver
		defer wg.Done()
		f, err := ss.AcceptFlow(run)
		if err != nil {
			return
		}
		for {
			m, err := f.ReadMessage(run)
			if err != nil {
				return
			}
			if counting.Load() {
				mfpBytes.Add(int64(len(m.Data)))
			}
		}
	}()
	go func() { // TCP sender
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for run.Err() == nil {
			_ = tcpConn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := tcpConn.Write(buf); err != nil && run.Err() != nil {
				return
			}
		}
	}()
	go func() { // TCP receiver
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			_ = tcpPeer.SetReadDeadline(time.Now().Add(time.Second))
			n, err := tcpPeer.Read(buf)
			if counting.Load() {
				tcpBytes.Add(int64(n))
			}
			if err != nil && (err == io.EOF || run.Err() != nil) {
				return
			}
		}
	}()
	time.Sleep(4 * time.Second) // both past slow start
	counting.Store(true)
	time.Sleep(8 * time.Second)
	counting.Store(false)
	stop()
	_ = tcpConn.Close()
	_ = tcpPeer.Close()
	wg.Wait()

	m, c := mfpBytes.Load(), tcpBytes.Load()
	share := float64(m) / float64(m+c)
	t.Logf("over 8 s: RTMFP %.1f Mbit/s, TCP %.1f Mbit/s, RTMFP share %.2f", float64(m)*8/8e6, float64(c)*8/8e6, share)
	// Measured here against one TCP flow with the machine's default
	// congestion control (BBR): RTMFP 0.69–0.82 in twenty runs, once 0.87
	// when TCP stalled on a retransmission timeout — paced packets lose
	// less at the drop-tail queue than TCP's bursts. (Against Cubic, which
	// backs off on every loss, RTMFP takes 0.80–0.91.) The bounds catch a
	// controller that starves TCP (TCP keeps a tenth) or is starved.
	if m+c == 0 || share < 0.2 || share > 0.9 {
		t.Fatalf("RTMFP share of the bottleneck %.2f, want a fair part (0.2–0.9)", share)
	}
}
