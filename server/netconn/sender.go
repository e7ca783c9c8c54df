package netconn

import "sync"

// SenderRole is who sends for a connection right now, for transports
// that drain an Outbox. A transport's Waker tries to take it and, if it
// gets it, writes there and then on the calling goroutine (a
// publisher's, usually); if someone already holds it, again tells the
// holder that more was queued. Work that may wait is handed to a
// goroutine started with GoSend, which inherits the role. Stop ends it
// all when the connection goes.
type SenderRole struct {
	mu      sync.Mutex
	sending bool
	again   bool
	stopped bool // no more goroutines start
	wg      sync.WaitGroup
}

// Acquire takes the role, or reports false after telling its holder to go
// round once more.
func (r *SenderRole) Acquire() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sending {
		r.again = true
		return false
	}
	r.sending = true
	return true
}

// Release gives the role up, unless more was queued since the holder last
// looked: then it reports true and the holder keeps the role and sends.
func (r *SenderRole) Release() (again bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.again {
		r.again = false
		return true
	}
	r.sending = false
	return false
}

// Drop gives the role up whatever was queued (the connection failed).
func (r *SenderRole) Drop() {
	r.mu.Lock()
	r.sending, r.again = false, false
	r.mu.Unlock()
}

// GoSend runs fn, which holds the role and must give it up, on a goroutine
// of its own; after Stop the role is dropped instead.
func (r *SenderRole) GoSend(fn func()) {
	r.mu.Lock()
	if r.stopped {
		r.sending = false
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// Stop lets no more goroutines start and waits for those running.
func (r *SenderRole) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.wg.Wait()
}
