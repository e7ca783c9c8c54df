package server

import "sync"

// senderRole is who sends for a connection right now. A transport's
// outbox notify function tries to take it and, if it gets it, writes there
// and then on the calling goroutine (a publisher's, usually); if someone
// already holds it, again tells the holder that more was queued. Work that
// may wait is handed to a goroutine started with goSend, which inherits the
// role. stop ends it all when the connection goes.
type senderRole struct {
	mu      sync.Mutex
	sending bool
	again   bool
	stopped bool // no more goroutines start
	wg      sync.WaitGroup
}

// acquire takes the role, or reports false after telling its holder to go
// round once more.
func (r *senderRole) acquire() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sending {
		r.again = true
		return false
	}
	r.sending = true
	return true
}

// release gives the role up, unless more was queued since the holder last
// looked: then it reports true and the holder keeps the role and sends.
func (r *senderRole) release() (again bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.again {
		r.again = false
		return true
	}
	r.sending = false
	return false
}

// drop gives the role up whatever was queued (the connection failed).
func (r *senderRole) drop() {
	r.mu.Lock()
	r.sending, r.again = false, false
	r.mu.Unlock()
}

// goSend runs fn, which holds the role and must give it up, on a goroutine
// of its own; after stop the role is dropped instead.
func (r *senderRole) goSend(fn func()) {
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

// stop lets no more goroutines start and waits for those running.
func (r *senderRole) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.wg.Wait()
}
