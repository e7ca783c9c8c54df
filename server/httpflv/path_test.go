package httpflv

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Target
		ok   bool
	}{
		{"/live/cam.flv", Target{App: "live", Stream: "cam"}, true},
		{"/live/room1/cam.flv", Target{App: "live", Instance: "room1", Stream: "cam"}, true},
		{"/live/_definst_/cam.flv", Target{App: "live", Instance: "_definst_", Stream: "cam"}, true},
		{"/live/cam.v2.flv", Target{App: "live", Stream: "cam.v2"}, true},
		{"/live/cam", Target{}, false},
		{"/live/.flv", Target{}, false},
		{"/cam.flv", Target{}, false},
		{"//cam.flv", Target{}, false},
		{"/live//cam.flv", Target{}, false},
		{"/a/b/c/d.flv", Target{}, false},
		{"/live/../cam.flv", Target{}, false},
		{"/live/ca?m.flv", Target{}, false},
		{"/live/ca\x00m.flv", Target{}, false},
		{"live/cam.flv", Target{}, false},
		{"/live/" + strings.Repeat("x", maxPathBytes) + ".flv", Target{}, false},
	} {
		got, ok := ParsePath(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParsePath: whatever a client puts in the path, ParsePath either
// refuses it or names an application, an instance and a stream that put
// back together give the same path, none of them empty or holding a
// separator the core would split on.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/live/cam.flv", "/live/room/cam.flv", "/live/../x.flv", "/a//b.flv", "/\xff/x.flv", "/live/a?b.flv"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tg, ok := ParsePath(path)
		if !ok {
			return
		}
		rebuilt := "/" + tg.App + "/" + tg.Stream + ".flv"
		if tg.Instance != "" {
			rebuilt = "/" + tg.App + "/" + tg.Instance + "/" + tg.Stream + ".flv"
		}
		if rebuilt != path {
			t.Fatalf("ParsePath(%q) = %+v, which rebuilds %q", path, tg, rebuilt)
		}
		for _, n := range []string{tg.App, tg.Instance, tg.Stream} {
			if strings.ContainsAny(n, "/?") || n == ".." {
				t.Fatalf("ParsePath(%q) = %+v: a name holds a separator", path, tg)
			}
		}
		if tg.App == "" || tg.Stream == "" {
			t.Fatalf("ParsePath(%q) = %+v: empty name", path, tg)
		}
	})
}
