package rtmpt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// session is one open RTMPT session: its connection and what the table
// needs to expire it.
type session struct {
	id   string
	conn *Conn
	// lastSeen is when the client's last request came (unix
	// nanoseconds); the idle timer closes the session past idle.
	lastSeen atomic.Int64
	timer    *time.Timer

	seqMu sync.Mutex
	// lastSend is the sequence number of the last /send taken; a /send
	// must come with a higher one (docs/rtmpt.md).
	lastSend uint64
	sent     bool
}

// touch records a request from the client.
func (s *session) touch(now time.Time) { s.lastSeen.Store(now.UnixNano()) }

// takeSend checks a /send's sequence number against the last one's.
func (s *session) takeSend(seq uint64) error {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	if s.sent && seq <= s.lastSend {
		return fmt.Errorf("rtmpt: /send sequence number %d is not above the last one, %d", seq, s.lastSend)
	}
	s.lastSend, s.sent = seq, true
	return nil
}

// ErrPollTimeout is the close reason of a session whose client made no
// request for the idle timeout.
var ErrPollTimeout = errors.New("rtmpt: the client stopped polling")

// errTableFull refuses an /open past the session cap.
var errTableFull = errors.New("rtmpt: too many sessions")

// table holds the open sessions by id, at most max of them, and closes
// those whose client stops making requests.
type table struct {
	max  int
	idle time.Duration

	mu       sync.Mutex
	sessions map[string]*session
}

func newTable(max int, idle time.Duration) *table {
	return &table{max: max, idle: idle, sessions: make(map[string]*session)}
}

// add registers a session for conn under a fresh random id; ids are
// unguessable, since knowing one is all it takes to speak for the client.
func (t *table) add(conn *Conn) (*session, error) {
	var raw [8]byte
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sessions) >= t.max {
		return nil, errTableFull
	}
	var id string
	for {
		_, _ = rand.Read(raw[:])
		id = hex.EncodeToString(raw[:])
		if t.sessions[id] == nil {
			break
		}
	}
	s := &session{id: id, conn: conn}
	s.touch(time.Now())
	t.sessions[id] = s
	s.timer = time.AfterFunc(t.idle, func() { t.expire(s) })
	return s, nil
}

// get returns the session with id, or nil.
func (t *table) get(id string) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[id]
}

// len is how many sessions are open.
func (t *table) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// remove forgets s, which then answers no more requests, and closes its
// connection with cause (a no-op if it has closed already).
func (t *table) remove(s *session, cause error) {
	t.mu.Lock()
	if t.sessions[s.id] == s {
		delete(t.sessions, s.id)
	}
	t.mu.Unlock()
	s.timer.Stop()
	s.conn.closeWith(cause)
}

// expire is the idle timer's function: it closes the session if the
// client has been silent for the idle timeout and looks again later
// otherwise.
func (t *table) expire(s *session) {
	silent := time.Since(time.Unix(0, s.lastSeen.Load()))
	if silent < t.idle {
		// Under t.mu, which add holds while it sets s.timer, so that a
		// timer firing at once still finds it set.
		t.mu.Lock()
		s.timer.Reset(t.idle - silent)
		t.mu.Unlock()
		return
	}
	t.remove(s, fmt.Errorf("%w for %v", ErrPollTimeout, t.idle.Round(time.Millisecond)))
}

// queued reports whether any session holds bytes for its client.
func (t *table) queued() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		if s.conn.queued() > 0 {
			return true
		}
	}
	return false
}

// closeAll removes every session, closing their connections with cause.
func (t *table) closeAll(cause error) {
	t.mu.Lock()
	all := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		all = append(all, s)
	}
	t.mu.Unlock()
	for _, s := range all {
		t.remove(s, cause)
	}
}
