package egress

import (
	"testing"

	"github.com/nimbus-media/nimbus/media"
)

// batchSink is a media.Sink whose transport joins send batches.
type batchSink struct{ wakes, batched int }

func (s *batchSink) Wake()    { s.wakes++ }
func (s *batchSink) Lagging() {}

func (s *batchSink) WakeInto(b *SendBatch) {
	s.batched++
	if b != nil {
		panic("a batch from a nil pool")
	}
}

// TestShareFindsBatchWakers: a share wakes the sinks whose transport is a
// BatchWaker through WakeInto, once each, and the others through Wake;
// with no pool there is no batch to hand them.
func TestShareFindsBatchWakers(t *testing.T) {
	a, b := &batchSink{}, &batchSink{}
	plain := 0
	other := funcSink(func() { plain++ })
	share := Share(nil, func(s media.Sink) (BatchWaker, bool) {
		w, ok := s.(*batchSink)
		return w, ok
	})
	share([]media.Sink{a, other, b})
	if a.batched != 1 || b.batched != 1 || a.wakes+b.wakes != 0 || plain != 1 {
		t.Errorf("batched %d, %d, woken %d, %d, plain sink woken %d: want 1, 1, 0, 0, 1",
			a.batched, b.batched, a.wakes, b.wakes, plain)
	}
}
