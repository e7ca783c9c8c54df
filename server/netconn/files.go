package netconn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/mp4file"
	"github.com/nimbus-media/nimbus/media/vod"
)

// Why a stream name has no file.
var (
	// errBadName: the name would leave the streams folder (.., an
	// absolute path) or holds characters no file name may.
	errBadName = errors.New("invalid stream name for a file")
	// errUnsupported: a format Nimbus does not read or write (MP3).
	errUnsupported = errors.New("only FLV and MP4 files are supported")
	// errNoStorage: the server has no applications directory.
	errNoStorage = errors.New("recording and video on demand need apps_dir")
)

// fileFormat is a recorded stream's container.
type fileFormat uint8

const (
	formatFLV fileFormat = iota
	formatMP4
)

// streamFile maps a stream name to its file's path inside the streams
// folder and its format, as AMS does: "flv:name" and "name" are
// name.flv, "name.flv" is itself; "mp4:name.ext" (also "f4v:") is the
// MP4 file name.ext, and "mp4:name" name.mp4. A name ending in .mp4,
// .f4v, .mov or .m4v is MP4 without the prefix too (AMS asks for it;
// nginx-rtmp and ffmpeg's rtmp client go by the extension, and ffmpeg
// adds the prefix itself). "mp3:"/"id3:"/"raw:" names are refused.
// Names may use subfolders but never leave the folder; os.Root keeps
// symbolic links from leading out of it when the file is opened.
func streamFile(name string) (string, fileFormat, error) {
	format, prefixed := formatFLV, false
	if i := strings.IndexByte(name, ':'); i > 0 {
		switch strings.ToLower(name[:i]) {
		case "flv":
			name = name[i+1:]
		case "mp4", "f4v":
			name, format, prefixed = name[i+1:], formatMP4, true
		case "mp3", "id3", "raw":
			return "", 0, errUnsupported
		}
	}
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".mp4" || ext == ".f4v" || ext == ".mov" || ext == ".m4v":
		format = formatMP4
	case ext == ".mp3":
		return "", 0, errUnsupported
	case prefixed && ext == "":
		name += ".mp4"
	case prefixed, ext == ".flv":
	default:
		name += ".flv"
	}
	if !filepath.IsLocal(name) || strings.ContainsAny(name, "\\\x00") {
		return "", 0, errBadName
	}
	return name, format, nil
}

// openVOD opens the recorded stream called name of the connection's
// instance. A missing file fails with an error wrapping fs.ErrNotExist.
func (c *Conn) openVOD(name string) (vod.Source, error) {
	return c.cfg.Recordings().OpenVOD(c.inst, name)
}

// OpenVOD opens the recorded stream called name of inst (see streamFile)
// for a play, its index shared with every other play of the file: a
// client's play, or a server-side stream's playlist (apps/script). A
// missing file fails with an error wrapping fs.ErrNotExist; a bad name,
// an unsupported format and a missing apps_dir with errBadName,
// errUnsupported and errNoStorage, a file that is not FLV or MP4 with the
// scanner's error.
func (r Recordings) OpenVOD(inst *apps.Instance, name string) (vod.Source, error) {
	rel, format, err := streamFile(name)
	if err != nil {
		return nil, err
	}
	f, dir, err := r.openIn(inst.App().Name(), inst.Name(), rel)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, rel)
	if format == formatMP4 {
		ix, err := indexes.get(path, f, func(r io.ReaderAt, size int64) (any, error) { return mp4file.Scan(r, size) })
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		return vod.NewMP4(f, ix.(*mp4file.Index)), nil
	}
	ix, err := indexes.get(path, f, func(r io.ReaderAt, size int64) (any, error) { return flvfile.Scan(r, size) })
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return vod.NewFLV(f, ix.(*flvfile.Index)), nil
}

// indexes keeps the index of recently played files, so that players of
// one file scan it once: an entry serves while the file keeps its size
// and modification time (a recording in progress is scanned again).
var indexes = indexCache{m: make(map[string]indexEntry)}

// maxIndexes bounds the cache; past it, an arbitrary entry goes.
const maxIndexes = 1024

type indexCache struct {
	mu sync.Mutex
	m  map[string]indexEntry
}

type indexEntry struct {
	size int64
	mod  time.Time
	ix   any // *flvfile.Index or *mp4file.Index, as the path's extension says
}

// errNotFile: the name is a directory or a device, not a file to play.
var errNotFile = errors.New("not a regular file")

func (c *indexCache) get(path string, f *os.File, scan func(io.ReaderAt, int64) (any, error)) (any, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, errNotFile)
	}
	c.mu.Lock()
	e, ok := c.m[path]
	c.mu.Unlock()
	if ok && e.size == st.Size() && e.mod.Equal(st.ModTime()) {
		return e.ix, nil
	}
	ix, err := scan(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.mu.Lock()
	if len(c.m) >= maxIndexes {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[path] = indexEntry{size: st.Size(), mod: st.ModTime(), ix: ix}
	c.mu.Unlock()
	return ix, nil
}

// streamLength is getStreamLength's answer: a recorded stream's duration
// in seconds, 0 for a live stream or a name without a readable file.
func (c *Conn) streamLength(raw string) float64 {
	name, _ := splitQuery(raw)
	src, err := c.openVOD(name)
	if err != nil {
		return 0
	}
	_ = src.Close()
	return float64(src.Info().Duration) / 1000
}
