package rtmpconn

import (
	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Share returns the function that wakes one share of a frame's sinks
// (egress.Config.Share): RTMP players prepare their writes and the
// share's batch, from batches, makes them in one system call; every other
// sink (RTMFP players, recorders, HTTP responses) is woken as it is. With
// batches nil (media.io_uring off) each player writes for itself.
func Share(batches *egress.BatchPool) func([]media.Sink) {
	return func(sinks []media.Sink) {
		b := batches.Get()
		for _, sink := range sinks {
			if w, ok := netconn.SinkWaker(sink); ok {
				if c, ok := w.(*Conn); ok {
					c.wakeInto(b)
					continue
				}
			}
			sink.Wake()
		}
		if b != nil {
			b.Flush()
		}
	}
}
