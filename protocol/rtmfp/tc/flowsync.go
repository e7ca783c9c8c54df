package tc

import (
	"context"
	"sync"
	"time"
)

// flowSyncTimeout bounds how long a flow waits for its partners at a sync
// point: a sender that synchronises fewer flows than it said must not stall
// delivery for good.
const flowSyncTimeout = 5 * time.Second

// flowSync implements the receiving side of RFC 7425 §5.2 Flow
// Synchronization: a flow that delivers sync point id pauses until count
// flows in all have delivered the same id.
type flowSync struct {
	mu     sync.Mutex
	points map[uint32]*syncPoint
}

type syncPoint struct {
	n    uint32
	done chan struct{}
}

// arrive records that a flow reached sync point id and waits for the rest.
func (s *flowSync) arrive(ctx context.Context, id, count uint32) {
	s.mu.Lock()
	if s.points == nil {
		s.points = make(map[uint32]*syncPoint)
	}
	p := s.points[id]
	if p == nil {
		p = &syncPoint{done: make(chan struct{})}
		s.points[id] = p
	}
	p.n++
	if p.n >= count {
		close(p.done)
		delete(s.points, id)
	}
	s.mu.Unlock()
	t := time.NewTimer(flowSyncTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-t.C:
	}
}
