package server

import (
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// shareRTMP wakes one share of a frame's sinks (egress.Config.Share):
// RTMP players prepare their writes and the share's batch makes them in
// one system call; every other sink (RTMFP players, recorders, HTTP
// responses) is woken as it is.
func (s *Server) shareRTMP(sinks []media.Sink) {
	b := s.batches.Get()
	for _, sink := range sinks {
		if w, ok := netconn.SinkWaker(sink); ok {
			if c, ok := w.(*rtmpConn); ok {
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
