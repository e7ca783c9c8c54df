package netconn

import (
	"errors"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/protocol"
)

// recording is a publisher's stream being written to a file.
type recording struct {
	rec *recorder.Recorder
	// notify: the publisher asked (publish "record" or "append") and is
	// told NetStream.Record.*; a recording the application makes
	// (record = "all") is only logged, so that an encoder that treats
	// every error status as fatal (ffmpeg) is not cut off by a full disk.
	notify bool
	failed atomic.Bool
}

// startRecording records the stream ns publishes when the publisher asked
// (kind "record", "append" or "appendWithGap", AMS's publish types) or the
// application records everything. A recording that cannot start leaves
// the live stream as it is: the publisher gets NetStream.Record.NoAccess.
func (ns *netStream) startRecording(kind string) error {
	c := ns.c
	asked := kind == "record" || kind == "append" || kind == "appendWithGap"
	if !asked && !c.cfg.RecordAll[c.inst.App().Name()] {
		return nil
	}
	name := ns.pubName
	refuse := func(err error, desc string) error {
		c.log.Warn("recording refused", zap.String("stream", name), zap.Error(err))
		if !asked {
			return nil
		}
		return c.sendStatus(ns.id, protocol.LevelError, protocol.RecordNoAccess, desc, amf.Property{Key: "details", Value: name})
	}
	rel, format, err := streamFile(name)
	if err != nil {
		return refuse(err, "Cannot record "+name+": "+err.Error()+".")
	}
	dir, err := c.streamsDir()
	if err != nil {
		return refuse(err, "Cannot record "+name+": recording is not configured.")
	}
	r := &recording{notify: asked}
	opts := recorder.Options{
		Dir: dir, Name: rel, Append: kind == "append" || kind == "appendWithGap", MP4: format == formatMP4,
		Subscriber: c.cfg.Subscriber,
		OnEnd:      func(err error) { ns.recordingEnded(r, name, err) },
	}
	opts.Subscriber.Label = "record"
	r.rec, err = recorder.Start(c.inst.Streams(), name, opts)
	if err != nil {
		desc := "Cannot record " + name + "; the file cannot be written."
		switch {
		case errors.Is(err, recorder.ErrBusy):
			desc = name + " is being recorded already."
		case errors.Is(err, recorder.ErrAppendMP4):
			desc = "Cannot append to " + name + ": MP4 recordings cannot be appended to; record it anew, or record FLV."
		}
		return refuse(err, desc)
	}
	ns.rec = r
	c.log.Info("recording", zap.String("stream", name), zap.String("file", r.rec.Path()), zap.Bool("append", opts.Append))
	if !asked {
		return nil
	}
	return c.sendStatus(ns.id, protocol.LevelStatus, protocol.RecordStart, "Recording "+name+".",
		amf.Property{Key: "details", Value: name})
}

// recordingEnded runs on the recorder's goroutine when it ends; err is
// why, when it was not stopped (a write error, a disk that cannot keep
// up). The live stream goes on either way.
func (ns *netStream) recordingEnded(r *recording, name string, err error) {
	c := ns.c
	if err == nil {
		c.log.Info("recording stopped", zap.String("stream", name), zap.String("file", r.rec.Path()))
		return
	}
	r.failed.Store(true)
	c.log.Error("recording failed; the stream stays live", zap.String("stream", name), zap.Error(err))
	if r.notify {
		_ = c.sendStatus(ns.id, protocol.LevelError, protocol.RecordFailed, "Recording "+name+" failed.",
			amf.Property{Key: "details", Value: name})
	}
}

// stopRecording ends the recording of a publisher that stops; with
// notify, one who asked for it gets NetStream.Record.Stop.
func (ns *netStream) stopRecording(notify bool) {
	r := ns.rec
	if r == nil {
		return
	}
	ns.rec = nil
	r.rec.Stop()
	if notify && r.notify && !r.failed.Load() {
		_ = ns.c.sendStatus(ns.id, protocol.LevelStatus, protocol.RecordStop, "Stopped recording "+ns.pubName+".",
			amf.Property{Key: "details", Value: ns.pubName})
	}
}
