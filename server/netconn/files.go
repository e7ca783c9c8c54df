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

	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/mp4file"
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

// streamsDir is the instance's streams folder,
// <apps_dir>/<app>/streams/<instance>, where AMS keeps recordings.
func (c *Conn) streamsDir() (string, error) {
	return c.cfg.Recordings().Folder(c.inst.App().Name(), c.inst.Name())
}

// vodSource is a recorded stream's open file as a play reads it: FLV and
// MP4 files each implement it over their shared index, so that the play
// (vodPlay) does not care which it reads. Each play has its own source.
type vodSource interface {
	// Start positions the reader for a play from ms (≤ 0: from the
	// first tag) on the seek point at or before it; it returns that
	// point's timestamp and the sequence headers a decoder starting
	// there needs that the reader will not meet. An error says a header
	// was unreadable; the ones returned are still good.
	Start(ms int64) (ts uint32, headers []flvfile.Tag, err error)
	// Seek positions the reader on the seek point at or before ms
	// (a decoder already has the sequence headers) and returns its
	// timestamp.
	Seek(ms uint32) uint32
	// Next returns the next tag; io.EOF after the last.
	Next() (flvfile.Tag, error)
	// Info is what the play tells the client about the file.
	Info() vodInfo
	Close() error
}

// vodInfo describes a recorded stream.
type vodInfo struct {
	first    uint32 // the first timestamp, ms
	duration uint32 // ms
	bytes    int64  // the media's size, for Play.Complete
	hasVideo bool
	meta     []byte // the onMetaData payload players get
}

// flvSource reads an FLV file.
type flvSource struct {
	f   *os.File
	ix  *flvfile.Index
	cur *flvfile.Cursor
}

func (s *flvSource) Start(ms int64) (uint32, []flvfile.Tag, error) {
	ix := s.ix
	from, ts := ix.First, ix.FirstTimestamp
	if ms > 0 {
		if sp, ok := ix.SeekPoint(uint32(ms)); ok {
			from, ts = sp.Offset, sp.Timestamp
		}
	}
	s.cur.Reposition(from)
	if from == ix.First {
		return ts, nil, nil // the file's own headers come first
	}
	var headers []flvfile.Tag
	var err error
	for _, h := range ix.SeqHeadersBefore(from) {
		t, herr := flvfile.NewCursor(s.f, h.Offset, ix.End).Next()
		if herr != nil {
			err = herr
			continue
		}
		headers = append(headers, t)
	}
	return ts, headers, err
}

func (s *flvSource) Seek(ms uint32) uint32 {
	off, ts := s.ix.First, s.ix.FirstTimestamp
	if sp, ok := s.ix.SeekPoint(ms); ok {
		off, ts = sp.Offset, sp.Timestamp
	}
	s.cur.Reposition(off)
	return ts
}

func (s *flvSource) Next() (flvfile.Tag, error) { return s.cur.Next() }

func (s *flvSource) Info() vodInfo {
	return vodInfo{first: s.ix.FirstTimestamp, duration: s.ix.Duration(), bytes: s.ix.End,
		hasVideo: s.ix.HasVideo, meta: s.ix.Meta}
}

func (s *flvSource) Close() error { return s.f.Close() }

// mp4Source reads an MP4 file: its samples become tags as they are read,
// and its sequence headers come from the sample descriptions.
type mp4Source struct {
	f   *os.File
	ix  *mp4file.Index
	cur *mp4file.Cursor
}

func (s *mp4Source) Start(ms int64) (uint32, []flvfile.Tag, error) {
	var ts uint32
	if ms > 0 {
		ts = s.cur.Seek(uint32(ms))
	} else {
		s.cur.Rewind()
		ts = s.ix.FirstTimestamp
	}
	return ts, s.ix.SeqHeaders(ts), nil
}

func (s *mp4Source) Seek(ms uint32) uint32 { return s.cur.Seek(ms) }

func (s *mp4Source) Next() (flvfile.Tag, error) { return s.cur.Next() }

func (s *mp4Source) Info() vodInfo {
	return vodInfo{first: s.ix.FirstTimestamp, duration: s.ix.Duration(), bytes: s.ix.Size,
		hasVideo: s.ix.Video != nil, meta: s.ix.Meta}
}

func (s *mp4Source) Close() error { return s.f.Close() }

// openVOD opens the recorded stream called name. A missing file fails
// with an error wrapping fs.ErrNotExist.
func (c *Conn) openVOD(name string) (vodSource, error) {
	rel, format, err := streamFile(name)
	if err != nil {
		return nil, err
	}
	dir, err := c.streamsDir()
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
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
		mix := ix.(*mp4file.Index)
		return &mp4Source{f: f, ix: mix, cur: mp4file.NewCursor(f, mix)}, nil
	}
	ix, err := indexes.get(path, f, func(r io.ReaderAt, size int64) (any, error) { return flvfile.Scan(r, size) })
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	fix := ix.(*flvfile.Index)
	return &flvSource{f: f, ix: fix, cur: flvfile.NewCursor(f, fix.First, fix.End)}, nil
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
	return float64(src.Info().duration) / 1000
}
