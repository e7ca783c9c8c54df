package netconn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/mp4file"
	"github.com/nimbus-media/nimbus/media/recorder"
)

// Why a recording cannot start (besides recorder.ErrBusy: the file is
// being recorded already) or a streams folder cannot be named.
var (
	// ErrNotLive: the stream to record has no publisher.
	ErrNotLive = errors.New("the stream is not published")
	// ErrCannotRecord: the stream has no file this server may write: its
	// name leaves the streams folder or names a format not recorded, or
	// the server has no apps_dir. The cause is wrapped.
	ErrCannotRecord = errors.New("cannot record the stream")
	// ErrBadFolder: an application or instance name that is not one
	// folder name (the admin API takes them from a URL).
	ErrBadFolder = errors.New("invalid application or instance name for a folder")
)

// Recordings starts, finds and lists the recordings of application
// instances in their streams folders, <AppsDir>/<app>/streams/<instance>/
// (AMS's layout). Publishers (publish "record", record = "all"), the
// admin API and application scripts all start recorders through it, so
// that a stream goes to one file, under one recorder, however its
// recording was asked for.
type Recordings struct {
	// AppsDir is the applications directory; empty, nothing is recorded.
	AppsDir string
	// Subscriber bounds each recorder's queue (Label "record").
	Subscriber media.SubscriberConfig
}

// Recordings is c's view of the streams folders.
func (c *Config) Recordings() Recordings {
	return Recordings{AppsDir: c.AppsDir, Subscriber: c.Subscriber}
}

// Folder is the streams folder of an application instance.
func (r Recordings) Folder(app, instance string) (string, error) {
	streams, err := r.streams(app)
	if err != nil {
		return "", err
	}
	if !folderName(instance) {
		return "", fmt.Errorf("%w: instance %q", ErrBadFolder, instance)
	}
	return filepath.Join(streams, instance), nil
}

// streams is the folder of app's instance folders.
func (r Recordings) streams(app string) (string, error) {
	if r.AppsDir == "" {
		return "", errNoStorage
	}
	if !folderName(app) {
		return "", fmt.Errorf("%w: application %q", ErrBadFolder, app)
	}
	return filepath.Join(r.AppsDir, app, "streams"), nil
}

// folderName tells whether n names one folder inside another.
func folderName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, `/\`+"\x00")
}

// Start records the live stream called name of inst to its file (see
// streamFile), continuing the file with appendMode. The recording ends
// when the publisher leaves, on Stop, or on a write error; onEnd (which
// must not block) is told which, as recorder.Options.OnEnd.
func (r Recordings) Start(inst *apps.Instance, name string, appendMode bool, onEnd func(error)) (*recorder.Recorder, error) {
	dir, rel, format, err := r.file(inst, name)
	if err != nil {
		return nil, err
	}
	if s := inst.Streams().Get(name); s == nil || !s.Published() {
		return nil, fmt.Errorf("record %s: %w", name, ErrNotLive)
	}
	sub := r.Subscriber
	sub.Label = "record"
	rec, err := recorder.Start(inst.Streams(), name, recorder.Options{
		Dir: dir, Name: rel, Append: appendMode, MP4: format == formatMP4, Subscriber: sub, OnEnd: onEnd,
	})
	if errors.Is(err, media.ErrNotFound) {
		err = fmt.Errorf("%w: %w", ErrNotLive, err) // unpublished meanwhile
	}
	return rec, err
}

// Active is the recorder writing the file of the stream called name of
// inst, nil when nobody records it.
func (r Recordings) Active(inst *apps.Instance, name string) *recorder.Recorder {
	dir, rel, _, err := r.file(inst, name)
	if err != nil {
		return nil
	}
	return recorder.Active(dir, rel)
}

// file is the streams folder of inst, the path inside it of the stream
// called name and the file's format.
func (r Recordings) file(inst *apps.Instance, name string) (dir, rel string, format fileFormat, err error) {
	if rel, format, err = streamFile(name); err != nil {
		return "", "", 0, fmt.Errorf("%w %s: %w", ErrCannotRecord, name, err)
	}
	if dir, err = r.Folder(inst.App().Name(), inst.Name()); err != nil {
		return "", "", 0, fmt.Errorf("%w %s: %w", ErrCannotRecord, name, err)
	}
	return dir, rel, format, nil
}

// Length is the recorded stream called name's duration in seconds (AMS
// Stream.length), read from the file's ends (flvfile.Duration). A missing
// file is an error wrapping fs.ErrNotExist.
func (r Recordings) Length(inst *apps.Instance, name string) (float64, error) {
	dir, rel, _, err := r.file(inst, name)
	if err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ms, err := fileDuration(f)
	return float64(ms) / 1000, err
}

// fileDuration is an open FLV or MP4 file's duration in milliseconds:
// an FLV's read from its ends, an MP4's from its index.
func fileDuration(f *os.File) (uint32, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: %w", f.Name(), flvfile.ErrNotFLV)
	}
	if _, format, err := streamFile(filepath.Base(f.Name())); err == nil && format == formatMP4 {
		ix, err := mp4file.Scan(f, st.Size())
		if err != nil {
			return 0, err
		}
		return ix.Duration(), nil
	}
	return flvfile.Duration(f, st.Size())
}

// durationOf is the duration of the FLV or MP4 file p of root, 0 when it cannot
// be read: a listing shows the files it cannot measure too.
func durationOf(root *os.Root, p string) time.Duration {
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return 0
	}
	defer f.Close()
	ms, err := fileDuration(f)
	if err != nil {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// RecordedFile describes a file of a streams folder.
type RecordedFile struct {
	App, Instance string
	// Name is the path inside the instance's streams folder, with forward
	// slashes (shows/monday.flv).
	Name     string
	Size     int64
	Modified time.Time
	// Duration is the media's, 0 for a file that is not FLV or MP4.
	Duration time.Duration
	// Recording: a recorder writes the file now; Duration is how much it
	// has written.
	Recording bool
}

// List lists the regular files of the streams folder of app/instance,
// sorted by name; a folder not created yet (nothing recorded) is empty.
// Symbolic links are not followed nor listed: whatever they point to is
// not the folder's.
func (r Recordings) List(app, instance string) ([]RecordedFile, error) {
	dir, err := r.Folder(app, instance)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []RecordedFile
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return nil // gone since the folder was read: not listed
		}
		rf := RecordedFile{App: app, Instance: instance, Name: p, Size: st.Size(), Modified: st.ModTime()}
		if rec := recorder.Active(dir, filepath.FromSlash(p)); rec != nil {
			rf.Recording, rf.Duration = true, rec.Duration()
		} else if strings.EqualFold(path.Ext(p), ".flv") {
			rf.Duration = durationOf(root, p)
		}
		out = append(out, rf)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Instances lists the instance folders under app's streams folder: the
// instances that have recordings, loaded or not.
func (r Recordings) Instances(app string) ([]string, error) {
	dir, err := r.streams(app)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// openIn opens rel (a path of the OS's) inside the streams folder of
// app/instance, which it returns too, through os.Root: a path that
// leaves the folder fails.
func (r Recordings) openIn(app, instance, rel string) (f *os.File, dir string, err error) {
	dir, err = r.Folder(app, instance)
	if err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	defer root.Close()
	f, err = root.Open(rel)
	if err != nil {
		return nil, "", err
	}
	return f, dir, nil
}

// Open opens the file name (slash-separated, inside the streams folder
// of app/instance) for reading. A name that leaves the folder, through
// .., an absolute path or a symbolic link, fails as os.Root refuses it;
// one that is not a regular file fails wrapping fs.ErrNotExist.
func (r Recordings) Open(app, instance, name string) (*os.File, error) {
	f, _, err := r.openIn(app, instance, filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%s: not a recorded file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}
