//go:build !linux

package egress

import "syscall"

// Poller parks quiet connections' readers on Linux (poller_linux.go);
// elsewhere every connection keeps its reader goroutine.
type Poller struct{}

// Parker is a connection whose reader goroutine may park.
type Parker interface {
	Resume()
	Closed() bool
}

// PollHandle is a connection's place in a Poller; there are none here.
type PollHandle struct{}

// NewPoller returns nil: no poller here.
func NewPoller() (*Poller, error) { return nil, nil }

// Handle returns nil: nothing parks here.
func (p *Poller) Handle(Parker, syscall.RawConn) *PollHandle { return nil }

// Park reports false: nothing parks here.
func (h *PollHandle) Park() bool { return false }

// Wake does nothing: nothing is parked.
func (h *PollHandle) Wake() {}

// Len is 0.
func (p *Poller) Len() int { return 0 }

// Stop does nothing.
func (p *Poller) Stop() error { return nil }
