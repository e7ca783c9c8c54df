package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesEmittedFamilies(t *testing.T) {
	h := Handler(func(emit Emit) {
		emit("nimbus_connections", "Connected clients by protocol.", Gauge, 3, Label{"protocol", "rtmp"})
		emit("nimbus_connections", "Connected clients by protocol.", Gauge, 1, Label{"protocol", "rtmfp"})
		emit("nimbus_received_bytes_total", "Bytes received.", Counter, 1234)
		emit("nimbus_stream_subscribers", "Players.", Gauge, 2, Label{"stream", "cam\"1\n"})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		"# TYPE nimbus_connections gauge",
		`nimbus_connections{protocol="rtmp"} 3`,
		`nimbus_connections{protocol="rtmfp"} 1`,
		"# TYPE nimbus_received_bytes_total counter",
		"nimbus_received_bytes_total 1234",
		`nimbus_stream_subscribers{stream="cam\"1\n"} 2`,
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
}

func TestHandlerSurvivesInconsistentSamples(t *testing.T) {
	h := Handler(func(emit Emit) {
		emit("x", "help", Gauge, 1, Label{"a", "1"})
		emit("x", "help", Gauge, 2, Label{"a", "1"}, Label{"b", "2"}) // other label names
		emit("y", "help", Gauge, 3)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "y 3") {
		t.Fatalf("a bad family took the others down:\n%s", rec.Body.String())
	}
}
