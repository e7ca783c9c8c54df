// Package metrics writes the Prometheus text exposition format (version
// 0.0.4, as documented at prometheus.io "Exposition formats"). It is the only
// place in Nimbus that knows about Prometheus.
//
// The functions append to a caller's buffer, so a scrape renders every
// family into one reused slice without per-sample allocation. The official
// client library (client_golang) would pull protobuf and half a dozen other
// modules into the build for what is, for a server that already keeps its
// own counters, a few lines of text; this package keeps the format in one
// spot so that switching to the library later touches nothing else.
package metrics

import (
	"math"
	"strconv"
)

// ContentType is the HTTP Content-Type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's type.
type Type string

// Family types used by Nimbus.
const (
	Counter Type = "counter"
	Gauge   Type = "gauge"
)

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// AppendHeader appends the # HELP and # TYPE lines that open a family.
func AppendHeader(b []byte, name, help string, t Type) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendEscaped(b, help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, t...)
	return append(b, '\n')
}

// AppendSample appends one sample line: name{labels} value.
func AppendSample(b []byte, name string, v float64, labels ...Label) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, '=', '"')
			b = appendEscaped(b, l.Value, true)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = AppendValue(b, v)
	return append(b, '\n')
}

// AppendValue appends a sample value as the format spells it: Go float
// syntax, with +Inf, -Inf and NaN.
func AppendValue(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes backslash and newline (HELP text) and, in label
// values, the double quote.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}
