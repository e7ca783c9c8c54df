package netconn

import (
	"errors"
	"testing"
)

// TestStreamFile: stream names map to files and formats as AMS maps them,
// with MP4 by prefix or extension, and names leaving the folder refused.
func TestStreamFile(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		format     fileFormat
		err        error
	}{
		{"clip", "clip.flv", formatFLV, nil},
		{"flv:clip", "clip.flv", formatFLV, nil},
		{"clip.flv", "clip.flv", formatFLV, nil},
		{"shows/monday", "shows/monday.flv", formatFLV, nil},
		{"mp4:movie.mp4", "movie.mp4", formatMP4, nil},
		{"mp4:movie", "movie.mp4", formatMP4, nil},
		{"mp4:movie.f4v", "movie.f4v", formatMP4, nil},
		{"MP4:movie.MOV", "movie.MOV", formatMP4, nil},
		{"f4v:movie.f4v", "movie.f4v", formatMP4, nil},
		{"movie.m4v", "movie.m4v", formatMP4, nil},
		{"movie.mp4", "movie.mp4", formatMP4, nil},
		{"mp3:song", "", 0, errUnsupported},
		{"song.mp3", "", 0, errUnsupported},
		{"mp4:../movie.mp4", "", 0, errBadName},
		{"mp4:/etc/passwd", "", 0, errBadName},
		{"../x", "", 0, errBadName},
	} {
		file, format, err := streamFile(tc.name)
		if file != tc.file || format != tc.format || !errors.Is(err, tc.err) {
			t.Errorf("streamFile(%q) = %q, %d, %v; want %q, %d, %v", tc.name, file, format, err, tc.file, tc.format, tc.err)
		}
	}
}
