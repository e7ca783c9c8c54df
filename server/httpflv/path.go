package httpflv

import (
	"strings"
	"unicode/utf8"
)

// maxPathBytes bounds a playback path; AMS names are far shorter.
const maxPathBytes = 1024

// Target is what a playback URL's path names.
type Target struct {
	// App is the application, Instance its instance ("" for the default,
	// _definst_), Stream the live stream's name.
	App, Instance, Stream string
}

// ParsePath splits a playback URL's path, already unescaped,
// "/APP/STREAM.flv" or "/APP/INSTANCE/STREAM.flv", into its names. It
// refuses what an RTMP client could not have named either: empty names,
// "." and "..", control characters, and '?' (the core would take what
// follows for a query; a query travels in the URL's own). A stream name
// with '/' in it is not reachable this way: the path's middle part is the
// instance, as in an RTMP URL.
func ParsePath(path string) (Target, bool) {
	parts, ok := SplitPath(path)
	if !ok {
		return Target{}, false
	}
	last := len(parts) - 1
	if parts[last], ok = strings.CutSuffix(parts[last], ".flv"); !ok {
		return Target{}, false
	}
	return TargetOf(parts)
}

// SplitPath splits a playback URL's path, already unescaped, at '/' after
// its leading one; a path too long, not UTF-8 or not absolute is refused.
func SplitPath(path string) ([]string, bool) {
	if len(path) > maxPathBytes || !utf8.ValidString(path) {
		return nil, false
	}
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	return strings.Split(rest, "/"), true
}

// TargetOf is the Target that a playback path's names give, APP/STREAM or
// APP/INSTANCE/STREAM, each a ValidName.
func TargetOf(names []string) (Target, bool) {
	for _, p := range names {
		if !ValidName(p) {
			return Target{}, false
		}
	}
	switch len(names) {
	case 2:
		return Target{App: names[0], Stream: names[1]}, true
	case 3:
		return Target{App: names[0], Instance: names[1], Stream: names[2]}, true
	}
	return Target{}, false
}

// ValidName tells whether one segment of a playback path may name an
// application, an instance or a stream.
func ValidName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '?' || r == '#' || r == '\\' {
			return false
		}
	}
	return true
}
