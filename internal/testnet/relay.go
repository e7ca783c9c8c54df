// Package testnet provides in-process UDP networks for RTMFP tests.
//
// Relay is a lossy relay: a client talks to the relay's front address and
// the relay forwards to the server from a back socket, applying loss,
// duplication, reordering, corruption and delay in both directions.
// Rebind replaces the back socket, so the server sees the client's address
// change mid-session (NAT rebinding), and Blackout drops everything for a
// while. NAT (nat.go) puts hosts behind RFC 4787 mapping and filtering
// behaviours for P2P tests.
package testnet

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Impairments are the relay's knobs; probabilities are per datagram.
type Impairments struct {
	Loss      float64
	Duplicate float64
	Reorder   float64 // probability of an extra 1-3 × Delay hold-back
	Corrupt   float64 // probability of flipping one random bit
	Delay     time.Duration
}

// Relay forwards datagrams between one client and a server.
type Relay struct {
	front  *net.UDPConn
	server netip.AddrPort

	mu       sync.Mutex
	back     *net.UDPConn
	client   netip.AddrPort
	imp      Impairments
	rng      *rand.Rand
	blackout time.Time
	closed   bool

	wg      sync.WaitGroup
	pending sync.WaitGroup // delayed deliveries
	// Forwarded counts datagrams forwarded (after loss) in each direction.
	Forwarded atomic.Int64
}

// New starts a relay to server on a loopback port.
func New(server netip.AddrPort, imp Impairments, seed uint64) (*Relay, error) {
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	back, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		front.Close()
		return nil, err
	}
	r := &Relay{front: front, back: back, server: server, imp: imp, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	r.wg.Add(2)
	go r.pump(front, true)
	go r.pump(back, false)
	return r, nil
}

// Addr is where the client should send.
func (r *Relay) Addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// BackAddr is the address the server currently sees the client at.
func (r *Relay) BackAddr() netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.back.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetImpairments changes the knobs.
func (r *Relay) SetImpairments(imp Impairments) {
	r.mu.Lock()
	r.imp = imp
	r.mu.Unlock()
}

// Blackout drops every datagram for d.
func (r *Relay) Blackout(d time.Duration) {
	r.mu.Lock()
	r.blackout = time.Now().Add(d)
	r.mu.Unlock()
}

// Rebind moves the server-facing side to a new socket (new source port).
func (r *Relay) Rebind() error {
	nb, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		nb.Close()
		return net.ErrClosed
	}
	old := r.back
	r.back = nb
	r.wg.Add(1)
	r.mu.Unlock()
	go r.pump(nb, false)
	return old.Close()
}

// Close stops the relay and waits for its goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	back := r.back
	r.mu.Unlock()
	err := errors.Join(r.front.Close(), back.Close())
	r.wg.Wait()
	r.pending.Wait()
	return err
}

// pump reads one socket; fromClient tells the direction.
func (r *Relay) pump(c *net.UDPConn, fromClient bool) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.mu.Lock()
		if fromClient {
			r.client = from
		}
		imp, rng := r.imp, r.rng
		drop := time.Now().Before(r.blackout) || rng.Float64() < imp.Loss
		copies := 1
		if rng.Float64() < imp.Duplicate {
			copies = 2
		}
		delays := make([]time.Duration, copies)
		for i := range delays {
			delays[i] = imp.Delay
			if rng.Float64() < imp.Reorder {
				delays[i] += time.Duration(1+rng.IntN(3)) * imp.Delay
			}
		}
		data := append([]byte(nil), buf[:n]...)
		if n > 0 && rng.Float64() < imp.Corrupt {
			data[rng.IntN(n)] ^= 1 << rng.IntN(8)
		}
		r.mu.Unlock()
		if drop {
			continue
		}
		for _, d := range delays {
			r.forward(data, fromClient, d)
		}
	}
}

func (r *Relay) forward(data []byte, fromClient bool, delay time.Duration) {
	send := func() {
		r.mu.Lock()
		closed, back, client := r.closed, r.back, r.client
		r.mu.Unlock()
		if closed {
			return
		}
		r.Forwarded.Add(1)
		if fromClient {
			_, _ = back.WriteToUDPAddrPort(data, r.server)
		} else if client.IsValid() {
			_, _ = r.front.WriteToUDPAddrPort(data, client)
		}
	}
	if delay <= 0 {
		send()
		return
	}
	r.pending.Add(1)
	time.AfterFunc(delay, func() {
		defer r.pending.Done()
		send()
	})
}
