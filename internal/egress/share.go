package egress

import "github.com/nimbus-media/nimbus/media"

// BatchWaker is a transport whose wake can join a fan-out share's send
// batch: WakeInto drains its outbox into its writer on the calling
// goroutine, as its Wake would, and hands the write to b (SendBatch.Add)
// rather than making it; with b nil, or when the batch cannot serve it (a
// backlog of its own, a socket that is not direct), it writes as its Wake
// does. RTMP and HTTP-FLV players are both written this way, so one
// io_uring_enter serves a share's players whatever their protocol.
type BatchWaker interface {
	WakeInto(b *SendBatch)
}

// Share returns the function that wakes one share of a frame's sinks
// (Config.Share): each sink that leads to a BatchWaker (transport finds it;
// what stands behind a sink is the glue's to know) prepares its write, and
// a batch from batches makes the share's writes in one system call; every
// other sink (RTMFP players, recorders) is woken as it is. With batches nil
// (media.io_uring off), or none to be had, each player writes for itself.
func Share(batches *BatchPool, transport func(media.Sink) (BatchWaker, bool)) func([]media.Sink) {
	return func(sinks []media.Sink) {
		b := batches.Get()
		for _, sink := range sinks {
			if w, ok := transport(sink); ok {
				w.WakeInto(b)
				continue
			}
			sink.Wake()
		}
		if b != nil {
			b.Flush()
		}
	}
}
