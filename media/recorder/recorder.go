// Package recorder writes a live stream to an FLV or a fragmented MP4
// file while it plays to its players. A Recorder is one more subscriber of the stream
// (media.Subscriber): the publisher pushes into its bounded queue and
// never waits for the disk; the recorder's own goroutine pops the queue
// and writes through a buffer. A recorder the disk cannot keep up with
// drops to the next keyframe like a slow player, and past the
// subscriber's lag bound stops (ErrLagging); a write error (a full disk)
// stops it too. Either way the stream goes on, and the file holds every
// complete tag (FLV) or fragment (MP4) written before: media/flvfile and
// media/mp4file read a file cut anywhere.
//
// A recording is of one publication: it ends when the publisher leaves,
// however it was started (the publisher's "record", the application's
// record = "all", the admin API, a script), so that none outlives the
// stream it was asked for and a republish starts its own.
package recorder

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/mp4file"
	"github.com/nimbus-media/nimbus/protocol"
)

// Errors a recording ends or fails to start with.
var (
	// ErrBusy: another recorder writes the same file.
	ErrBusy = errors.New("recorder: the file is being recorded already")
	// ErrLagging: the recorder fell behind the stream past its lag bound.
	ErrLagging = errors.New("recorder: writing fell behind the stream")
	// ErrAppendMP4: appending to an MP4 recording is refused. Its init
	// segment fixes the tracks and their codec configuration, which a new
	// publisher's sequence headers only tell after recording has begun,
	// and an encoder restarted with other settings would make the whole
	// file undecodable past the join; FLV carries its headers inline.
	ErrAppendMP4 = errors.New("recorder: MP4 recordings cannot be appended to")
)

// Options say what to record where.
type Options struct {
	// Dir is the streams folder; it is created if missing. Name is the
	// file's path inside it, which may not leave it (os.Root enforces
	// that, through symbolic links too).
	Dir, Name string
	// Append continues an existing file after its last complete tag,
	// with timestamps following its last; without it the file is
	// replaced.
	Append bool
	// MP4 writes fragmented MP4 (media/mp4file) instead of FLV; it
	// cannot be combined with Append.
	MP4 bool
	// Subscriber bounds the recorder's queue (Label defaults to "record").
	Subscriber media.SubscriberConfig
	// OnEnd is called once, from the recorder's goroutine, when the
	// recording ends: with nil after Stop or when the publisher left,
	// else with why it stopped (a write error, ErrLagging). It must not
	// block.
	OnEnd func(error)
	// create opens the file; tests replace it to make writes fail.
	create func(root *os.Root, name string, flag int) (file, error)
}

// file is what the recorder needs of an *os.File.
type file interface {
	io.Writer
	io.WriterAt
	io.ReaderAt
	io.Seeker
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

func openFile(root *os.Root, name string, flag int) (file, error) {
	return root.OpenFile(name, flag, 0o644)
}

// flushEvery bounds what a crash loses: the buffer goes to the file at
// least this often.
const flushEvery = time.Second

// appendGap separates an appended recording's first timestamp from the
// file's last, about a frame, so that timestamps keep increasing.
const appendGap = 40

// stopWait bounds how long Stop waits for the file to be closed: a new
// recording of the same name (a republish) then finds it free.
const stopWait = 2 * time.Second

// busy holds the recorders by the path they write, so that a second
// recorder of one file is refused rather than interleaving tags with the
// first, and so that whoever did not start a recording (the admin API
// listing files, stopping a stream's recording) can find it.
var busy = struct {
	sync.Mutex
	paths map[string]*Recorder
}{paths: make(map[string]*Recorder)}

// filePath is where a recorder with these options writes; Name cannot
// climb out of Dir lexically (os.Root also refuses links out of it).
func filePath(dir, name string) string {
	return filepath.Join(dir, filepath.Clean("/" + name)[1:])
}

// Active returns the recorder writing name in dir (as Options.Dir and
// Options.Name), or nil when the file is not being recorded.
func Active(dir, name string) *Recorder {
	busy.Lock()
	defer busy.Unlock()
	return busy.paths[filePath(dir, name)]
}

// Recorder records one stream. Its methods are safe from any goroutine.
type Recorder struct {
	path  string
	opts  Options
	sub   *media.Subscriber
	f     file
	w     *bufio.Writer
	fw    *flvfile.Writer
	mw    *mp4file.Writer // instead of fw, for MP4
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	lag   chan struct{}
	lagMu sync.Once

	// Timestamps: frames are written at ts - first + base, where first is
	// the first audio or video frame's and base 0 for a new file.
	started     bool
	first, base uint32
	last        uint32 // the last audio or video timestamp written
	startTS     uint32 // the file's first timestamp, for the duration
	// duration is last-startTS in milliseconds, for readers on other
	// goroutines (a file listing while the recording goes on).
	duration atomic.Uint32
	pending  []*media.Frame
	newFile  bool // a new file, not one appended to: it gets a header
	hasMeta  bool // an onMetaData has been written
	batch    [64]media.Entry
}

// Start opens the file and subscribes to stream in reg, which must be
// published. The recording runs until Stop, a write error or lag.
func Start(reg *media.Registry, stream string, o Options) (*Recorder, error) {
	if o.MP4 && o.Append {
		return nil, ErrAppendMP4
	}
	path := filePath(o.Dir, o.Name)
	r := &Recorder{path: path, opts: o, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), lag: make(chan struct{})}
	busy.Lock()
	if busy.paths[path] != nil {
		busy.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrBusy, path)
	}
	busy.paths[path] = r
	busy.Unlock()
	if err := r.open(); err != nil {
		release(path)
		return nil, err
	}
	cfg := o.Subscriber
	if cfg.Label == "" {
		cfg.Label = "record"
	}
	r.sub = media.NewSubscriber(cfg, r)
	if _, err := reg.Subscribe(stream, r.sub, true); err != nil {
		_ = r.f.Close()
		release(path)
		return nil, fmt.Errorf("recorder: subscribe %q: %w", stream, err)
	}
	go r.run()
	return r, nil
}

func release(path string) {
	busy.Lock()
	delete(busy.paths, path)
	busy.Unlock()
}

// open opens (or creates) the file: a new one is written from its header
// once the first frame shows which media the stream has; an appended one
// loses whatever follows its last complete tag.
func (r *Recorder) open() error {
	if err := os.MkdirAll(r.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	root, err := os.OpenRoot(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	defer root.Close()
	if d := filepath.Dir(r.opts.Name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
	}
	create := r.opts.create
	if create == nil {
		create = openFile
	}
	flag := os.O_RDWR | os.O_CREATE
	if !r.opts.Append {
		flag |= os.O_TRUNC
	}
	f, err := create(root, r.opts.Name, flag)
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	r.f, r.w = f, bufio.NewWriterSize(f, 64<<10)
	r.newFile = true
	if r.opts.Append {
		if err := r.openAppend(); err != nil {
			_ = f.Close()
			return err
		}
	}
	return nil
}

// openAppend positions an existing file for appending; an empty file or
// one that is not FLV is started anew.
func (r *Recorder) openAppend() error {
	st, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	ix, err := flvfile.Scan(r.f, st.Size())
	if err != nil {
		if errors.Is(err, flvfile.ErrNotFLV) || errors.Is(err, flvfile.ErrNoMedia) {
			return r.f.Truncate(0)
		}
		return fmt.Errorf("recorder: %s: %w", r.path, err)
	}
	if err := r.f.Truncate(ix.End); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	if _, err := r.f.Seek(ix.End, io.SeekStart); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	r.fw = flvfile.AppendWriter(r.w, ix.End, ix.MetaDurationAt)
	r.newFile, r.hasMeta = false, true
	r.base, r.startTS, r.last = ix.LastTimestamp+appendGap, ix.FirstTimestamp, ix.LastTimestamp
	r.duration.Store(r.last - r.startTS)
	return nil
}

// Path is the file being written.
func (r *Recorder) Path() string { return r.path }

// Duration is how much media the file holds so far, first to last
// timestamp: what its onMetaData will say when the recording ends.
func (r *Recorder) Duration() time.Duration {
	return time.Duration(r.duration.Load()) * time.Millisecond
}

// Wake tells the recorder its queue has entries (media.Sink).
func (r *Recorder) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Lagging tells the recorder it fell behind past its lag bound
// (media.Sink): it ends with ErrLagging.
func (r *Recorder) Lagging() { r.lagMu.Do(func() { close(r.lag) }) }

// Stop ends the recording: what is queued is written, the duration
// patched and the file closed. It waits for that at most stopWait.
func (r *Recorder) Stop() {
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-time.After(stopWait):
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	var err error
	for err == nil {
		select {
		case <-r.wake:
			err = r.drain()
		case <-t.C:
			err = r.w.Flush()
		case <-r.lag:
			err = ErrLagging
		case <-r.stop:
			err = r.drain()
			if err == nil {
				err = errStopped
			}
		}
	}
	if s := r.sub.Stream(); s != nil {
		s.Unsubscribe(r.sub)
	}
	if cerr := r.close(); err == errStopped {
		err = cerr
	}
	release(r.path)
	if r.opts.OnEnd != nil {
		r.opts.OnEnd(err)
	}
}

// errStopped ends the loop after Stop or the publisher's leaving; it is
// not reported.
var errStopped = errors.New("stopped")

// drain writes what is queued, up to the publisher's leaving, which ends
// the recording (errStopped).
func (r *Recorder) drain() error {
	for {
		entries := r.sub.PopBatch(r.batch[:0], len(r.batch))
		for i, e := range entries {
			var err error
			switch {
			case e.Frame != nil:
				err = r.write(e.Frame)
			case e.Event == media.EventUnpublish:
				err = errStopped
			}
			if err != nil {
				clear(entries[i:])
				return err
			}
			entries[i] = media.Entry{}
		}
		if len(entries) < len(r.batch) {
			return nil
		}
	}
}

// write records one frame. Metadata and sequence headers that come
// before the first audio or video frame wait for it: its timestamp is the
// recording's zero, and it tells which media the header announces.
func (r *Recorder) write(f *media.Frame) error {
	if !r.started {
		if f.Metadata || f.SeqHeader || f.Type == protocol.TypeDataAMF0 {
			r.pending = append(r.pending, f)
			return nil
		}
		r.started, r.first = true, f.Timestamp
		if err := r.writeHeader(f); err != nil {
			return err
		}
		for _, p := range r.pending {
			if err := r.writeFrame(p); err != nil {
				return err
			}
		}
		r.pending = nil
	}
	return r.writeFrame(f)
}

func (r *Recorder) writeHeader(first *media.Frame) error {
	if !r.newFile {
		return nil
	}
	if r.opts.MP4 {
		r.mw = mp4file.NewWriter(r.w)
		return nil
	}
	var audio, video bool
	for _, f := range append(r.pending, first) {
		audio = audio || f.Type == protocol.TypeAudio
		video = video || f.Type == protocol.TypeVideo
	}
	fw, err := flvfile.NewWriter(r.w, audio, video)
	if err != nil {
		return err
	}
	r.fw = fw
	return nil
}

func (r *Recorder) writeFrame(f *media.Frame) error {
	ts := r.base
	if f.Timestamp-r.first < 1<<31 { // not before the first frame
		ts += f.Timestamp - r.first
	}
	if r.mw != nil {
		// MP4 keeps audio and video; its duration is in the fragments.
		if f.Type != protocol.TypeDataAMF0 && ts > r.last {
			r.last = ts
		}
		return r.mw.WriteTag(flvfile.Tag{Type: f.Type, Timestamp: ts, Data: f.Payload})
	}
	if f.Metadata {
		// The first onMetaData of a new file gets the duration patched
		// in at the end; a later one (the publisher changed it, or an
		// append) keeps the duration recorded so far.
		meta, err := flvfile.WithDuration(f.Payload, float64(r.last-r.startTS)/1000)
		if err != nil {
			return err
		}
		r.hasMeta = true
		return r.fw.WriteMeta(ts, meta)
	}
	if !r.hasMeta && r.newFile {
		// A stream without metadata still gets an onMetaData with the
		// duration, which players and ffprobe read.
		meta, err := flvfile.WithDuration(nil, 0)
		if err != nil {
			return err
		}
		r.hasMeta = true
		if err := r.fw.WriteMeta(ts, meta); err != nil {
			return err
		}
	}
	if f.Type != protocol.TypeDataAMF0 && ts > r.last {
		r.last = ts
		r.duration.Store(r.last - r.startTS)
	}
	return r.fw.WriteTag(flvfile.Tag{Type: f.Type, Timestamp: ts, Data: f.Payload})
}

// close flushes the buffer, fills in the duration and closes the file;
// it returns the first error.
func (r *Recorder) close() error {
	var err error
	if r.mw != nil {
		err = r.mw.Close()
	}
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if r.fw != nil {
		if perr := flvfile.PatchDuration(r.f, r.fw.DurationAt, float64(r.last-r.startTS)/1000); err == nil {
			err = perr
		}
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recorder: %s: %w", r.path, err)
	}
	return nil
}
