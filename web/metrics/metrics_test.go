package metrics

import (
	"math"
	"strings"
	"testing"
)

var sampleTests = []struct {
	name   string
	metric string
	value  float64
	labels []Label
	want   string
}{
	{"plain", "nimbus_up", 1, nil, "nimbus_up 1\n"},
	{"fraction", "x", 0.25, nil, "x 0.25\n"},
	{"large", "x", 1e21, nil, "x 1e+21\n"},
	{"labels", "nimbus_connections", 3, []Label{{"protocol", "rtmp"}}, `nimbus_connections{protocol="rtmp"} 3` + "\n"},
	{"two labels", "x", 0, []Label{{"a", "1"}, {"b", "2"}}, `x{a="1",b="2"} 0` + "\n"},
	{"escaped", "x", -2, []Label{{"name", "a\"b\\c\nd"}}, `x{name="a\"b\\c\nd"} -2` + "\n"},
	{"inf", "x", math.Inf(1), nil, "x +Inf\n"},
	{"neg inf", "x", math.Inf(-1), nil, "x -Inf\n"},
	{"nan", "x", math.NaN(), nil, "x NaN\n"},
}

func TestAppendSample(t *testing.T) {
	for _, tt := range sampleTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendSample(nil, tt.metric, tt.value, tt.labels...)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendHeader(t *testing.T) {
	got := string(AppendHeader([]byte("prefix\n"), "nimbus_bytes_received_total", "Bytes \"received\"\nin\\total.", Counter))
	want := "prefix\n# HELP nimbus_bytes_received_total Bytes \"received\"\\nin\\\\total.\n# TYPE nimbus_bytes_received_total counter\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAppendSampleNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	labels := []Label{{"app", "live"}, {"stream", "cam\"1"}}
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendSample(buf[:0], "nimbus_stream_bitrate_bits", 123456.5, labels...)
	})
	if allocs != 0 {
		t.Errorf("AppendSample allocates %.1f times, want 0", allocs)
	}
}

func BenchmarkAppendSample(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	labels := []Label{{"app", "live/_definst_"}, {"stream", "camera1"}}
	for b.Loop() {
		buf = AppendSample(buf[:0], "nimbus_stream_bitrate_bits", 2.5e6, labels...)
	}
}

// unescape reverses label value escaping, for the fuzz round trip.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func FuzzAppendSample(f *testing.F) {
	for _, tt := range sampleTests {
		for _, l := range tt.labels {
			f.Add(l.Value, tt.value)
		}
	}
	f.Fuzz(func(t *testing.T, value string, v float64) {
		line := string(AppendSample(nil, "m", v, Label{"l", value}))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("sample spans lines: %q", line)
		}
		rest, ok := strings.CutPrefix(line, `m{l="`)
		if !ok {
			t.Fatalf("bad prefix: %q", line)
		}
		end := strings.LastIndex(rest, `"} `)
		if end < 0 {
			t.Fatalf("unterminated label: %q", line)
		}
		if got := unescape(rest[:end]); got != value {
			t.Fatalf("label value %q came back as %q", value, got)
		}
	})
}
