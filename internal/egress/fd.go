package egress

import "sync/atomic"

// SharedFD is a socket's descriptor number that a send batch may write
// to on behalf of the connection. A batch names the socket by number, so
// the socket must not close while a batch holds it: the kernel would
// reuse the number for the next socket accepted, and the batch would
// write one player's frames to another. Close therefore closes at once
// only when no batch holds the descriptor; otherwise the batch closes it
// when it gives it back (Loan.Return). The number is reachable only
// through a Loan, so nothing can write to it without holding it.
type SharedFD struct {
	fd    int32
	state atomic.Int32
	close func() error
}

// Bits of SharedFD.state.
const (
	fdLent        = 1 << iota // a Loan is out
	fdCloseWanted             // Close came while lent
	fdClosed                  // closed, or left to the loan to close
)

// NewSharedFD wraps descriptor fd, which close closes.
func NewSharedFD(fd int32, close func() error) *SharedFD {
	return &SharedFD{fd: fd, close: close}
}

// Loan is a batch's hold on a SharedFD; Return ends it.
type Loan struct{ f *SharedFD }

// Lend hands the descriptor to a batch until the Loan is returned; false
// when it is closed. One loan at a time: the connection's sender role
// makes only one writer, and a second Lend panics.
func (f *SharedFD) Lend() (Loan, bool) {
	for {
		s := f.state.Load()
		switch {
		case s&fdLent != 0:
			panic("egress: descriptor lent twice")
		case s&fdClosed != 0:
			return Loan{}, false
		}
		if f.state.CompareAndSwap(s, s|fdLent) {
			return Loan{f}, true
		}
	}
}

// FD is the descriptor number, valid until Return.
func (l Loan) FD() int32 { return l.f.fd }

// Return ends the loan, closing the socket if Close came meanwhile. A
// loan returned twice panics.
func (l Loan) Return() {
	f := l.f
	for {
		s := f.state.Load()
		if s&fdLent == 0 {
			panic("egress: descriptor returned twice")
		}
		if s&fdCloseWanted != 0 {
			if f.state.CompareAndSwap(s, fdClosed) {
				_ = f.close()
				return
			}
			continue
		}
		if f.state.CompareAndSwap(s, s&^fdLent) {
			return
		}
	}
}

// Close closes the socket now, or when the loan out is returned.
func (f *SharedFD) Close() error {
	for {
		s := f.state.Load()
		switch {
		case s&fdClosed != 0:
			return nil
		case s&fdLent != 0:
			if f.state.CompareAndSwap(s, s|fdCloseWanted|fdClosed) {
				return nil
			}
		default:
			if f.state.CompareAndSwap(s, fdClosed) {
				return f.close()
			}
		}
	}
}
