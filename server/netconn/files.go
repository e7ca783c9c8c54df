package netconn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-media/nimbus/media/flvfile"
)

// Why a stream name has no file.
var (
	// errBadName: the name would leave the streams folder (.., an
	// absolute path) or holds characters no file name may.
	errBadName = errors.New("invalid stream name for a file")
	// errUnsupported: a format Nimbus does not read or write yet.
	errUnsupported = errors.New("only FLV files are supported")
	// errNoStorage: the server has no applications directory.
	errNoStorage = errors.New("recording and video on demand need apps_dir")
)

// streamFile maps a stream name to its file's path inside the streams
// folder, as AMS does: "flv:name" and "name" are name.flv, "name.flv" is
// itself; "mp4:"/"f4v:"/"mp3:" names (a later step) are refused. Names
// may use subfolders but never leave the folder; os.Root keeps symbolic
// links from leading out of it when the file is opened.
func streamFile(name string) (string, error) {
	if i := strings.IndexByte(name, ':'); i > 0 {
		switch strings.ToLower(name[:i]) {
		case "flv":
			name = name[i+1:]
		case "mp4", "f4v", "mp3", "id3", "raw":
			return "", errUnsupported
		}
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".flv":
	case ".mp4", ".f4v", ".mov", ".m4v", ".mp3":
		return "", errUnsupported
	default:
		name += ".flv"
	}
	if !filepath.IsLocal(name) || strings.ContainsAny(name, "\\\x00") {
		return "", errBadName
	}
	return name, nil
}

// streamsDir is the instance's streams folder,
// <apps_dir>/<app>/streams/<instance>, where AMS keeps recordings.
func (c *Conn) streamsDir() (string, error) {
	return c.cfg.Recordings().Folder(c.inst.App().Name(), c.inst.Name())
}

// vodFile is an open recorded stream with its index.
type vodFile struct {
	f  *os.File
	ix *flvfile.Index
}

// openVOD opens the recorded stream called name. A missing file fails
// with an error wrapping fs.ErrNotExist.
func (c *Conn) openVOD(name string) (*vodFile, error) {
	rel, err := streamFile(name)
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
	ix, err := indexes.get(filepath.Join(dir, rel), f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &vodFile{f: f, ix: ix}, nil
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
	ix   *flvfile.Index
}

func (c *indexCache) get(path string, f *os.File) (*flvfile.Index, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, flvfile.ErrNotFLV)
	}
	c.mu.Lock()
	e, ok := c.m[path]
	c.mu.Unlock()
	if ok && e.size == st.Size() && e.mod.Equal(st.ModTime()) {
		return e.ix, nil
	}
	ix, err := flvfile.Scan(f, st.Size())
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
	f, err := c.openVOD(name)
	if err != nil {
		return 0
	}
	_ = f.f.Close()
	return float64(f.ix.Duration()) / 1000
}
