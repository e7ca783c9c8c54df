package egress

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Poller watches parked connections. A player sends the server almost
// nothing after it starts playing (an acknowledgement every few seconds, a
// ping response), yet a goroutine blocked in Read keeps its stack, which
// the connect and play handling grew to 8 KiB: the largest part of an idle
// player's memory. So a connection with nothing left to read that
// publishes nothing parks: its reader goroutine ends, one epoll set (this
// poller's, beside the runtime's) watches its socket, and the connection
// is resumed (Parker.Resume starts a new reader goroutine) when bytes
// arrive, when Wake asks (the idle check, Close), or when the poller stops.
//
// The parked map decides who resumes a connection: whoever takes its
// entry out. Entries are keyed by a token that never repeats, so an event
// for a socket that was closed and whose descriptor number was reused
// finds nothing.
type Poller struct {
	epfd  int
	wakeR int // read end of the pipe that stops the loop
	wakeW int

	mu     sync.Mutex
	parked map[uint64]*PollHandle
	closed bool
	done   chan struct{}
	tokens atomic.Uint64
}

// Parker is a connection whose reader goroutine may park.
type Parker interface {
	// Resume starts a reader goroutine for the parked connection.
	Resume()
	// Closed reports whether the connection has closed; Close must mark
	// it before it calls Wake.
	Closed() bool
}

// PollHandle is a connection's place in a Poller. Its fields are the
// poller's: a connection only hands it to Park and Wake.
type PollHandle struct {
	p     *Poller
	c     Parker
	rc    syscall.RawConn
	token uint64 // never reused
	added bool   // the socket is in the epoll set; the parking goroutine's
	// arming and wanted are guarded by the poller's lock: Park is
	// registering the socket, and a wake-up came meanwhile.
	arming, wanted bool
}

// Handle registers c, whose socket is rc, with the poller; nil for a
// socket without direct calls, which cannot park.
func (p *Poller) Handle(c Parker, rc syscall.RawConn) *PollHandle {
	if rc == nil {
		return nil
	}
	return &PollHandle{p: p, c: c, rc: rc, token: p.tokens.Add(1)}
}

// pollStopToken is the pipe's token; connection tokens start at 1.
const pollStopToken = 0

// NewPoller starts a poller; Stop ends it.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setPollToken(&ev, pollStopToken)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		unix.Close(epfd)
		unix.Close(pipe[0])
		unix.Close(pipe[1])
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p := &Poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], parked: make(map[uint64]*PollHandle), done: make(chan struct{})}
	go p.run()
	return p, nil
}

// setPollToken stores a token in the event's 64 bits of user data, which
// package unix names Fd and Pad.
func setPollToken(ev *unix.EpollEvent, token uint64) {
	ev.Fd = int32(uint32(token))
	ev.Pad = int32(uint32(token >> 32))
}

func pollToken(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// run waits for parked sockets to become readable and resumes their
// connections, until stop.
func (p *Poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
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
// A connection still arming (Park has not returned) is only marked as
// wanted: the goroutine parking it keeps it and reads on.
func (p *Poller) take(token uint64) *PollHandle {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.parked[token]
	if h == nil {
		return nil
	}
	if h.arming {
		h.wanted = true
		return nil
	}
	delete(p.parked, token)
	return h
}

// Park makes the socket of h's connection, whose reader goroutine is
// about to end, resume the connection when it becomes readable. It
// reports false when the connection must not park (the poller stopped,
// the socket closed, bytes or a wake-up came while it armed): the caller
// keeps reading. After true, the connection belongs to whoever takes it.
func (h *PollHandle) Park() bool {
	p := h.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	h.arming, h.wanted = true, false
	p.parked[h.token] = h
	p.mu.Unlock()
	var errno error
	err := h.rc.Control(func(fd uintptr) {
		// One-shot: the event disarms the socket, so one wake-up
		// resumes the connection once; level-triggered, so bytes that
		// arrived before this call wake it at once.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
		setPollToken(&ev, h.token)
		op := unix.EPOLL_CTL_MOD
		if !h.added {
			op = unix.EPOLL_CTL_ADD
		}
		errno = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err == nil && errno == nil {
		h.added = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h.arming = false
	// Close marks the connection closed before it wakes it, so either
	// the wake-up found it arming or the mark is seen here.
	if err != nil || errno != nil || h.wanted || h.c.Closed() {
		delete(p.parked, h.token)
		return false
	}
	return true
}

// Wake resumes the connection if it is parked, for Close or the idle
// check.
func (h *PollHandle) Wake() { h.p.resume(h.token) }

// resume resumes the connection parked under token, if there is one.
func (p *Poller) resume(token uint64) {
	if h := p.take(token); h != nil {
		h.c.Resume()
	}
}

// resumeAll stops parking and resumes every parked connection; one still
// arming is only marked, as take does.
func (p *Poller) resumeAll() {
	var parked []*PollHandle
	p.mu.Lock()
	p.closed = true
	for token, h := range p.parked {
		if h.arming {
			h.wanted = true
			continue
		}
		delete(p.parked, token)
		parked = append(parked, h)
	}
	p.mu.Unlock()
	for _, h := range parked {
		h.c.Resume()
	}
}

// Len is how many connections are parked.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// Stop ends the loop; connections still parked are resumed (a server
// closes them all before it stops the poller, so there are none).
func (p *Poller) Stop() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if _, err := unix.Write(p.wakeW, []byte{0}); err != nil {
		return fmt.Errorf("poller: stop: %w", os.NewSyscallError("write", err))
	}
	<-p.done
	p.resumeAll()
	unix.Close(p.epfd)
	unix.Close(p.wakeR)
	unix.Close(p.wakeW)
	return nil
}
