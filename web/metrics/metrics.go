// Package metrics serves Nimbus's Prometheus metrics with the official
// client library (client_golang). It is the only package that imports it:
// the rest of the server keeps its own counters and snapshots, and this
// package turns them into metric families at scrape time, next to the Go
// runtime and process collectors.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Type is a metric family's type.
type Type int

// Family types used by Nimbus.
const (
	Gauge Type = iota
	Counter
)

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// Emit reports one sample during a scrape. Every sample of a family must
// carry the same help text and label names.
type Emit func(name, help string, t Type, v float64, labels ...Label)

// Handler serves /metrics: the Go runtime and process collectors, and the
// samples gather emits at each scrape.
func Handler(gather func(Emit)) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{gather: gather},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// collector is an unchecked collector (it describes nothing up front):
// which streams and protocols exist is only known at scrape time.
type collector struct {
	gather func(Emit)
}

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	var names, values []string
	c.gather(func(name, help string, t Type, v float64, labels ...Label) {
		names, values = names[:0], values[:0]
		for _, l := range labels {
			names = append(names, l.Name)
			values = append(values, l.Value)
		}
		vt := prometheus.GaugeValue
		if t == Counter {
			vt = prometheus.CounterValue
		}
		desc := prometheus.NewDesc(name, help, append([]string(nil), names...), nil)
		m, err := prometheus.NewConstMetric(desc, vt, v, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	})
}
