package server

import (
	"crypto/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// recordingProxy forwards one client's datagrams to the server and back,
// keeping a copy of everything the client sent, for replay.
type recordingProxy struct {
	front, back *net.UDPConn
	server      *net.UDPAddr
	client      atomic.Pointer[net.UDPAddr]
	mu          sync.Mutex
	sent        [][]byte
	wg          sync.WaitGroup
}

func newRecordingProxy(t *testing.T, server net.Addr) *recordingProxy {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{front: front, back: back, server: server.(*net.UDPAddr)}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.client.Store(from)
			p.mu.Lock()
			p.sent = append(p.sent, append([]byte(nil), buf[:n]...))
			p.mu.Unlock()
			_, _ = back.WriteToUDP(buf[:n], p.server)
		}
	}()
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			if c := p.client.Load(); c != nil {
				_, _ = front.WriteToUDP(buf[:n], c)
			}
		}
	}()
	t.Cleanup(func() {
		front.Close()
		back.Close()
		p.wg.Wait()
	})
	return p
}

func (p *recordingProxy) recorded() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.sent...)
}

// TestRTMFPHostileInput: garbage, truncated and oversized datagrams, and
// a replay of a whole session's packets (handshake cookies included) from
// another address, leave an RTMFP player's stream untouched.
func TestRTMFPHostileInput(t *testing.T) {
	ts := startServer(t, nil)
	proxy := newRecordingProxy(t, ts.RTMFPAddr())
	pub, pid := startPublishing(t, ts, "calm", rtmp.ClientConfig{})
	player := dialRTMFP(t, "rtmfp://"+proxy.front.LocalAddr().String()+"/live", tc.ClientConfig{LocalAddr: "127.0.0.1:0"})
	id, err := player.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := player.Play(id, "calm", -2000); err != nil {
		t.Fatal(err)
	}
	player.SetDeadline(time.Now().Add(30 * time.Second))
	frame := 0
	expectFrame := func(what string) {
		t.Helper()
		frame++
		send(t, pub, pid, protocol.TypeVideo, uint32(frame*40), avcFrame(true, frame, 800))
		for {
			m, err := player.ReadMessage()
			if err != nil {
				t.Fatalf("after %s: %v", what, err)
			}
			if m.StreamID == id && m.Type == protocol.TypeVideo && m.Timestamp == uint32(frame*40) {
				return
			}
		}
	}
	expectFrame("start")

	attacker, err := net.DialUDP("udp", nil, ts.RTMFPAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	garbage := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	for _, hc := range []struct {
		name    string
		packets [][]byte
	}{
		{"random datagrams (bad checksums)", [][]byte{garbage(100), garbage(1200), garbage(37), garbage(17)}},
		{"truncated datagrams", [][]byte{{}, {1}, garbage(3), garbage(11)}},
		{"oversized datagram", [][]byte{garbage(9000)}},
		{"replayed session from another address", proxy.recorded()},
	} {
		for range 3 {
			for _, p := range hc.packets {
				_, _ = attacker.Write(p)
			}
		}
		time.Sleep(100 * time.Millisecond)
		expectFrame(hc.name)
	}
	if n := len(proxy.recorded()); n < 5 {
		t.Fatalf("only %d packets recorded for the replay", n)
	}
}
