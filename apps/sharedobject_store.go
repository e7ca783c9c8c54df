package apps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// sharedObjectDir is the folder, inside an application's folder, that holds
// persistent SharedObjects, one sub-folder per instance.
const sharedObjectDir = "sharedobjects"

// storeMagic starts every saved SharedObject file. The rest of the file is
// a SharedObject message body (type 19) with one Change per slot, so the
// store reuses the wire codec, its bounds and its fuzzing, and keeps every
// AMF type exactly.
var storeMagic = []byte("NIMBUS-SO1\n")

// maxStoreFile bounds what load reads.
const maxStoreFile = 64 << 20

// soStore keeps one instance's persistent SharedObjects in a folder.
type soStore struct {
	dir string
	// create makes the temporary file a save writes; tests put a failing
	// one here to show what a full disk does.
	create func(dir, pattern string) (tempFile, error)
}

// tempFile is what save needs of a temporary file.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

func createTemp(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

func (s *soStore) path(name string) string {
	return filepath.Join(s.dir, url.PathEscape(name)+".so")
}

// save writes the state through a temporary file in the same folder,
// synced and then renamed over the old file, so a crash leaves either the
// old or the new state, never a torn file. buf is scratch space; the grown
// buffer is returned for the next call.
func (s *soStore) save(buf []byte, name string, version uint32, slots map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(slots))
	for k := range slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := protocol.SharedObjectMessage{Name: name, Version: version, Persistent: true}
	buf = append(buf[:0], storeMagic...)
	var err error
	if buf, err = protocol.AppendSharedObject(buf, protocol.TypeSharedObjectAMF0, &msg); err != nil {
		return buf, err
	}
	for _, k := range keys {
		ev := protocol.SOEvent{Type: protocol.SOChange, Key: k, Value: slots[k]}
		if buf, err = protocol.AppendSOEvent(buf, protocol.TypeSharedObjectAMF0, &ev); err != nil {
			return buf, fmt.Errorf("slot %q: %w", k, err)
		}
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return buf, err
	}
	create := s.create
	if create == nil {
		create = createTemp
	}
	f, err := create(s.dir, ".save-*")
	if err != nil {
		return buf, err
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path(name))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return buf, err
}

// load restores so's version and slots from its file, if there is one.
func (s *soStore) load(so *SharedObject) error {
	f, err := os.Open(s.path(so.name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStoreFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxStoreFile || !bytes.HasPrefix(data, storeMagic) {
		return ErrStoreCorrupt
	}
	var msg protocol.SharedObjectMessage
	if err := protocol.DecodeSharedObject(amf.NewDecoder(), protocol.TypeSharedObjectAMF0, data[len(storeMagic):], &msg); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreCorrupt, err)
	}
	if msg.Name != so.name {
		return fmt.Errorf("%w: file holds %q", ErrStoreCorrupt, msg.Name)
	}
	for _, ev := range msg.Events {
		if ev.Type != protocol.SOChange {
			return fmt.Errorf("%w: unexpected %v event", ErrStoreCorrupt, ev.Type)
		}
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	so.version = msg.Version
	for _, ev := range msg.Events {
		so.slots[ev.Key] = ev.Value
	}
	return nil
}
