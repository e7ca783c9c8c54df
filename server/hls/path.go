package hls

import (
	"strings"

	"github.com/nimbus-media/nimbus/server/httpflv"
)

// Variant is an HLS flavour of a stream, with a muxer of its own.
type Variant uint8

// Variants.
const (
	// FMP4 is Low-Latency HLS: fMP4 segments and parts, blocking
	// playlist reloads, preload hints. Players without LL-HLS play its
	// segments as plain HLS.
	FMP4 Variant = iota
	// TS is HLS with MPEG-TS segments, for players that have no fMP4
	// (older set-top boxes and smart TVs, old Android).
	TS
)

func (v Variant) String() string {
	if v == TS {
		return "ts"
	}
	return "fmp4"
}

// tsDir is the path element that selects the TS variant.
const tsDir = "ts"

// Request is what an HLS URL's path names: a stream, a variant, and one
// of the muxer's files (the multivariant playlist index.m3u8, a media
// playlist, an init file, a segment or a part).
type Request struct {
	httpflv.Target
	Variant Variant
	File    string
}

// ParsePath splits an HLS URL's path, already unescaped:
//
//	/APP/STREAM/FILE              LL-HLS (fMP4) of APP's default instance
//	/APP/INSTANCE/STREAM/FILE     ... of INSTANCE
//	/APP/STREAM/ts/FILE           MPEG-TS
//	/APP/INSTANCE/STREAM/ts/FILE
//
// A path of four elements whose third is "ts" is the TS variant of the
// default instance's stream: a stream named "ts" of a named instance is
// not reachable over HLS. Names follow httpflv.ParsePath's rules; FILE is
// one of the muxer's names (letters, digits, '_' and '.').
func ParsePath(path string) (Request, bool) {
	parts, ok := httpflv.SplitPath(path)
	if !ok {
		return Request{}, false
	}
	if len(parts) < 3 || len(parts) > 5 {
		return Request{}, false
	}
	var r Request
	r.File, parts = parts[len(parts)-1], parts[:len(parts)-1]
	if !validFile(r.File) {
		return Request{}, false
	}
	if len(parts) >= 3 && parts[len(parts)-1] == tsDir {
		r.Variant, parts = TS, parts[:len(parts)-1]
	}
	if r.Target, ok = httpflv.TargetOf(parts); !ok {
		return Request{}, false
	}
	return r, true
}

// validFile tells whether s may be one of the muxer's file names.
func validFile(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return strings.HasSuffix(s, ".m3u8") || strings.HasSuffix(s, ".mp4") || strings.HasSuffix(s, ".ts")
}
