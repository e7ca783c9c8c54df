package flvfile

import (
	"bytes"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// amfOnMetaData is the AMF0 string "onMetaData" a metadata tag starts with.
var amfOnMetaData = []byte("\x02\x00\x0aonMetaData")

// amfDurationKey is the AMF0 property name "duration" followed by the
// number marker: the 8 bytes after it are the duration.
var amfDurationKey = []byte("\x00\x08duration\x00")

func isMetaData(p []byte) bool { return bytes.HasPrefix(p, amfOnMetaData) }

// DurationOffset returns where, in an onMetaData payload, the 8-byte
// duration number starts, or -1.
func DurationOffset(p []byte) int {
	i := bytes.Index(p, amfDurationKey)
	if i < 0 || i+len(amfDurationKey)+8 > len(p) {
		return -1
	}
	return i + len(amfDurationKey)
}

// WithDuration returns an onMetaData payload ("onMetaData", {...}) with
// the duration property set to seconds, first among the properties; meta
// is the one to start from, or nil for one holding only the duration. A
// payload that does not decode as onMetaData is replaced, not repaired.
func WithDuration(meta []byte, seconds float64) ([]byte, error) {
	props := amf.ECMAArray{{Key: "duration", Value: seconds}}
	if vals, err := amf.DecodeAMF0All(meta); err == nil && len(vals) >= 2 {
		var old []amf.Property
		switch o := vals[1].(type) {
		case amf.ECMAArray:
			old = o
		case amf.Object:
			old = o
		}
		for _, p := range old {
			if p.Key != "duration" {
				props = append(props, p)
			}
		}
	}
	b, err := protocol.AppendValues(nil, "onMetaData", props)
	if err != nil {
		return nil, fmt.Errorf("flvfile: encode onMetaData: %w", err)
	}
	return b, nil
}

// readMeta fills the index's Meta and MetaDurationAt from the first
// onMetaData tag at off (off < 0: none).
func (ix *Index) readMeta(r io.ReaderAt, off int64, size int) error {
	var meta []byte
	if off >= 0 && size <= maxMetaSize {
		meta = make([]byte, size)
		if _, err := r.ReadAt(meta, off+TagHeaderSize); err != nil {
			return fmt.Errorf("flvfile: onMetaData at %d: %w", off, err)
		}
		if d := DurationOffset(meta); d >= 0 {
			ix.MetaDurationAt = off + TagHeaderSize + int64(d)
		}
	}
	var err error
	ix.Meta, err = WithDuration(meta, float64(ix.Duration())/1000)
	return err
}
