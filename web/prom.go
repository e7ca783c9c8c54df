package web

import (
	"net/http"
	"time"

	"github.com/nimbus-media/nimbus/web/metrics"
)

// metricsHandler serves /metrics from the latest stats snapshot.
func (s *Server) metricsHandler() http.Handler {
	return metrics.Handler(func(emit metrics.Emit) {
		gatherMetrics(emit, s.stats.current(time.Now()), s.hub, s.eventsDropped.Load(), s.backend.Refusals())
	})
}

func gatherMetrics(emit metrics.Emit, snap *Snapshot, h *hub, dropped uint64, refusals map[string]uint64) {
	st := snap.Server
	emit("nimbus_build_info", "Nimbus version; always 1.", metrics.Gauge, 1, lbl("version", st.Version))
	emit("nimbus_uptime_seconds", "Time since the server started.", metrics.Gauge, st.UptimeSeconds)
	for _, p := range []string{"rtmp", "rtmfp"} {
		emit("nimbus_connections", "Connected clients by protocol.", metrics.Gauge, float64(st.Connections[p]), lbl("protocol", p))
	}
	for p, n := range st.Connections {
		if p != "rtmp" && p != "rtmfp" {
			emit("nimbus_connections", "Connected clients by protocol.", metrics.Gauge, float64(n), lbl("protocol", p))
		}
	}
	emit("nimbus_received_bytes_total", "Bytes received from clients.", metrics.Counter, float64(st.BytesIn))
	emit("nimbus_sent_bytes_total", "Bytes sent to clients.", metrics.Counter, float64(st.BytesOut))
	emit("nimbus_process_cpu_percent", "CPU used by the process, percent of one core.", metrics.Gauge, st.CPUPercent)
	emit("nimbus_memory_bytes", "Memory obtained from the OS by the Go runtime.", metrics.Gauge, float64(st.MemoryBytes))
	emit("nimbus_goroutines", "Goroutines.", metrics.Gauge, float64(st.Goroutines))
	emit("nimbus_dashboards", "Connected live dashboards.", metrics.Gauge, float64(h.count()))
	emit("nimbus_dashboards_dropped_total", "Dashboards disconnected for not reading their updates.", metrics.Counter, float64(h.dropped.Load()))

	emit("nimbus_admin_events_dropped_total", "Live events lost because the admin server's queue was full.", metrics.Counter, float64(dropped))

	published := 0
	for _, st := range snap.Streams {
		if st.Published {
			published++
		}
	}
	emit("nimbus_streams", "Published live streams.", metrics.Gauge, float64(published))
	for _, st := range snap.Streams {
		if st.Published {
			emit("nimbus_stream_bitrate_bits", "Ingest bit rate of a stream over the last seconds.", metrics.Gauge, st.Bitrate, lbl("app", st.App+"/"+st.Instance), lbl("stream", st.Name))
		}
	}
	for _, st := range snap.Streams {
		for p, n := range st.SubscribersByProtocol {
			emit("nimbus_stream_subscribers", "Players of a stream by protocol.", metrics.Gauge, float64(n), lbl("app", st.App+"/"+st.Instance), lbl("stream", st.Name), lbl("protocol", p))
		}
	}
	for limit, n := range refusals {
		emit("nimbus_refusals_total", "Clients refused by a limit.", metrics.Counter, float64(n), lbl("limit", limit))
	}
}

func lbl(name, value string) metrics.Label { return metrics.Label{Name: name, Value: value} }
