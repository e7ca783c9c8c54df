package web

import (
	"net/http"
	"time"

	"github.com/nimbus-media/nimbus/web/metrics"
)

// metrics serves /metrics from the latest stats snapshot.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	snap := s.stats.current(time.Now())
	b := appendMetrics(make([]byte, 0, 4096), snap, s.hub, s.eventsDropped.Load())
	w.Header().Set("Content-Type", metrics.ContentType)
	_, _ = w.Write(b)
}

func appendMetrics(b []byte, snap *Snapshot, h *hub, dropped uint64) []byte {
	st := snap.Server
	b = metrics.AppendHeader(b, "nimbus_build_info", "Nimbus version; always 1.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_build_info", 1, lbl("version", st.Version))
	b = metrics.AppendHeader(b, "nimbus_uptime_seconds", "Time since the server started.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_uptime_seconds", st.UptimeSeconds)
	b = metrics.AppendHeader(b, "nimbus_connections", "Connected clients by protocol.", metrics.Gauge)
	for _, p := range []string{"rtmp", "rtmfp"} {
		b = metrics.AppendSample(b, "nimbus_connections", float64(st.Connections[p]), lbl("protocol", p))
	}
	for p, n := range st.Connections {
		if p != "rtmp" && p != "rtmfp" {
			b = metrics.AppendSample(b, "nimbus_connections", float64(n), lbl("protocol", p))
		}
	}
	b = metrics.AppendHeader(b, "nimbus_received_bytes_total", "Bytes received from clients.", metrics.Counter)
	b = metrics.AppendSample(b, "nimbus_received_bytes_total", float64(st.BytesIn))
	b = metrics.AppendHeader(b, "nimbus_sent_bytes_total", "Bytes sent to clients.", metrics.Counter)
	b = metrics.AppendSample(b, "nimbus_sent_bytes_total", float64(st.BytesOut))
	b = metrics.AppendHeader(b, "nimbus_process_cpu_percent", "CPU used by the process, percent of one core.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_process_cpu_percent", st.CPUPercent)
	b = metrics.AppendHeader(b, "nimbus_memory_bytes", "Memory obtained from the OS by the Go runtime.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_memory_bytes", float64(st.MemoryBytes))
	b = metrics.AppendHeader(b, "nimbus_goroutines", "Goroutines.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_goroutines", float64(st.Goroutines))
	b = metrics.AppendHeader(b, "nimbus_dashboards", "Connected live dashboards.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_dashboards", float64(h.count()))
	b = metrics.AppendHeader(b, "nimbus_dashboards_dropped_total", "Dashboards disconnected for not reading their updates.", metrics.Counter)
	b = metrics.AppendSample(b, "nimbus_dashboards_dropped_total", float64(h.dropped.Load()))

	b = metrics.AppendHeader(b, "nimbus_admin_events_dropped_total", "Live events lost because the admin server's queue was full.", metrics.Counter)
	b = metrics.AppendSample(b, "nimbus_admin_events_dropped_total", float64(dropped))

	published := 0
	for _, st := range snap.Streams {
		if st.Published {
			published++
		}
	}
	b = metrics.AppendHeader(b, "nimbus_streams", "Published live streams.", metrics.Gauge)
	b = metrics.AppendSample(b, "nimbus_streams", float64(published))
	b = metrics.AppendHeader(b, "nimbus_stream_bitrate_bits", "Ingest bit rate of a stream over the last seconds.", metrics.Gauge)
	for _, st := range snap.Streams {
		if st.Published {
			b = metrics.AppendSample(b, "nimbus_stream_bitrate_bits", st.Bitrate, lbl("app", st.App+"/"+st.Instance), lbl("stream", st.Name))
		}
	}
	b = metrics.AppendHeader(b, "nimbus_stream_subscribers", "Players of a stream by protocol.", metrics.Gauge)
	for _, st := range snap.Streams {
		for p, n := range st.SubscribersByProtocol {
			b = metrics.AppendSample(b, "nimbus_stream_subscribers", float64(n), lbl("app", st.App+"/"+st.Instance), lbl("stream", st.Name), lbl("protocol", p))
		}
	}
	return b
}

func lbl(name, value string) metrics.Label { return metrics.Label{Name: name, Value: value} }
