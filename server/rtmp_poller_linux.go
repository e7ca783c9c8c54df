package server

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// poller watches parked RTMP connections. A player sends the server almost
// nothing after it starts playing (an acknowledgement every few seconds, a
// ping response), yet a goroutine blocked in Read keeps its stack, which
// the connect and play handling grew to 8 KiB: the largest part of an idle
// player's memory. So a connection with nothing left to read that
// publishes nothing parks: its reader goroutine ends, one epoll set (this
// poller's, beside the runtime's) watches its socket, and a new goroutine
// takes the read loop up again when bytes arrive (rtmpConn.serve), when
// the idle check wants it, or when the connection closes.
//
// The parked map decides who resumes a connection: whoever takes its
// entry out. Entries are keyed by a token that never repeats, so an event
// for a socket that was closed and whose descriptor number was reused
// finds nothing.
type poller struct {
	epfd  int
	wakeR int // read end of the pipe that stops the loop
	wakeW int

	mu     sync.Mutex
	parked map[uint64]*rtmpConn
	closed bool
	done   chan struct{}
}

// pollStopToken is the pipe's token; connection tokens start at 1.
const pollStopToken = 0

// newPoller starts a poller; stop ends it.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setPollToken(&ev, pollStopToken)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], parked: make(map[uint64]*rtmpConn), done: make(chan struct{})}
	go p.run()
	return p, nil
}

// setPollToken stores a token in the event's 64 bits of user data, which
// package syscall names Fd and Pad.
func setPollToken(ev *syscall.EpollEvent, token uint64) {
	ev.Fd = int32(uint32(token))
	ev.Pad = int32(uint32(token >> 32))
}

func pollToken(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// run waits for parked sockets to become readable and resumes their
// connections, until stop.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// Cannot happen with a valid set; resume everyone rather
			// than leave them parked with no one watching.
			p.resumeAll()
			return
		}
		for i := range events[:n] {
			token := pollToken(&events[i])
			if token == pollStopToken {
				return
			}
			p.resume(token)
		}
	}
}

// take removes a parked connection and returns it; the caller resumes it.
// A connection still arming (park has not returned) is only marked as
// wanted: the goroutine parking it keeps it and reads on.
func (p *poller) take(token uint64) *rtmpConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.parked[token]
	if c == nil {
		return nil
	}
	if c.parkArming {
		c.parkWanted = true
		return nil
	}
	delete(p.parked, token)
	return c
}

// park makes the socket of c, whose reader goroutine is about to end,
// wake the connection when it becomes readable. It reports false when c
// must not park (the poller stopped, the socket closed, bytes or a wake-up
// came while it armed): the caller keeps reading. After true, c belongs to
// whoever takes it.
func (p *poller) park(c *rtmpConn) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	c.parkArming, c.parkWanted = true, false
	p.parked[c.pollToken] = c
	p.mu.Unlock()
	var errno error
	err := c.sock.rc.Control(func(fd uintptr) {
		// One-shot: the event disarms the socket, so one wake-up
		// resumes the connection once; level-triggered, so bytes that
		// arrived before this call wake it at once.
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
		setPollToken(&ev, c.pollToken)
		op := syscall.EPOLL_CTL_MOD
		if !c.pollAdded {
			op = syscall.EPOLL_CTL_ADD
		}
		errno = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err == nil && errno == nil {
		c.pollAdded = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c.parkArming = false
	// Close marks the connection closed before it wakes it, so either
	// the wake-up found it arming or the mark is seen here.
	if err != nil || errno != nil || c.parkWanted || c.closed.Load() {
		delete(p.parked, c.pollToken)
		return false
	}
	return true
}

// wake resumes c if it is parked, for Close or the idle check.
func (p *poller) wake(c *rtmpConn) { p.resume(c.pollToken) }

// resume starts a reader goroutine for the connection parked under token,
// if there is one.
func (p *poller) resume(token uint64) {
	if c := p.take(token); c != nil {
		go c.serve()
	}
}

// resumeAll stops parking and resumes every parked connection; one still
// arming is only marked, as take does.
func (p *poller) resumeAll() {
	var parked []*rtmpConn
	p.mu.Lock()
	p.closed = true
	for token, c := range p.parked {
		if c.parkArming {
			c.parkWanted = true
			continue
		}
		delete(p.parked, token)
		parked = append(parked, c)
	}
	p.mu.Unlock()
	for _, c := range parked {
		go c.serve()
	}
}

// len is how many connections are parked.
func (p *poller) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// stop ends the loop; connections still parked are resumed (the server
// closes them all before it stops the poller, so there are none).
func (p *poller) stop() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if _, err := syscall.Write(p.wakeW, []byte{0}); err != nil {
		return fmt.Errorf("poller: stop: %w", os.NewSyscallError("write", err))
	}
	<-p.done
	p.resumeAll()
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
	return nil
}
