// Package vod reads recorded streams, FLV and MP4 files, as a player
// reads them: positioned on a seek point, tag by tag, each tag one
// positioned read of the file (through the page cache) over an index
// that the file's players share. A play of a file in server/netconn and
// a server-side playlist in apps/script both read through Source, so
// that a file plays the same whoever plays it, and neither needs to know
// the container.
package vod

import (
	"os"

	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/mp4file"
)

// Source is a recorded stream's open file as a play reads it: FLV and
// MP4 files each implement it over their shared index. Each play has its
// own Source; one is not safe for concurrent use.
type Source interface {
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
	// Info is what a play tells its players about the file.
	Info() Info
	Close() error
}

// Info describes a recorded stream.
type Info struct {
	First    uint32 // the first timestamp, ms
	Duration uint32 // ms
	Bytes    int64  // the media's size, for Play.Complete
	HasVideo bool
	Meta     []byte // the onMetaData payload players get
}

// NewFLV reads the FLV file f, indexed by ix; closing the source closes f.
func NewFLV(f *os.File, ix *flvfile.Index) Source {
	return &flvSource{f: f, ix: ix, cur: flvfile.NewCursor(f, ix.First, ix.End)}
}

// NewMP4 reads the MP4 file f, indexed by ix; closing the source closes f.
func NewMP4(f *os.File, ix *mp4file.Index) Source {
	return &mp4Source{f: f, ix: ix, cur: mp4file.NewCursor(f, ix)}
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

func (s *flvSource) Info() Info {
	return Info{First: s.ix.FirstTimestamp, Duration: s.ix.Duration(), Bytes: s.ix.End,
		HasVideo: s.ix.HasVideo, Meta: s.ix.Meta}
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

func (s *mp4Source) Info() Info {
	return Info{First: s.ix.FirstTimestamp, Duration: s.ix.Duration(), Bytes: s.ix.Size,
		HasVideo: s.ix.Video != nil, Meta: s.ix.Meta}
}

func (s *mp4Source) Close() error { return s.f.Close() }
