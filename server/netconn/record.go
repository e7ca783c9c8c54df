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
	appendMode := kind == "append" || kind == "appendWithGap"
	r := &recording{notify: asked}
	rec, err := c.cfg.Recordings().Start(c.inst, name, appendMode, func(err error) { ns.recordingEnded(r, name, err) })
	if err != nil {
		c.log.Warn("recording refused", zap.String("stream", name), zap.Error(err))
		if !asked {
			return nil
		}
		return c.sendStatus(ns.id, protocol.LevelError, protocol.RecordNoAccess, refusal(name, err),
			amf.Property{Key: "details", Value: name})
	}
	r.rec = rec
	ns.rec = r
	c.log.Info("recording", zap.String("stream", name), zap.String("file", r.rec.Path()), zap.Bool("append", appendMode))
	if !asked {
		return nil
	}
	return c.sendStatus(ns.id, protocol.LevelStatus, protocol.RecordStart, "Recording "+name+".",
		amf.Property{Key: "details", Value: name})
}

// refusal is the NetStream.Record.NoAccess description of a recording
// that could not start.
func refusal(name string, err error) string {
	switch {
	case errors.Is(err, recorder.ErrBusy):
		return name + " is being recorded already."
	case errors.Is(err, recorder.ErrAppendMP4):
		return "Cannot append to " + name + ": MP4 recordings cannot be appended to; record it anew, or record FLV."
	case errors.Is(err, errNoStorage):
		return "Cannot record " + name + ": recording is not configured."
	case errors.Is(err, errBadName):
		return "Cannot record " + name + ": " + errBadName.Error() + "."
	case errors.Is(err, errUnsupported):
		return "Cannot record " + name + ": " + errUnsupported.Error() + "."
	}
	return "Cannot record " + name + "; the file cannot be written."
}

// recordingEnded runs on the recorder's goroutine when it ends; err is
// why, when it was not stopped (a write error, a disk that cannot keep
// up). The live stream goes on either way. It may run before Start has
// returned (the publisher gone at once), so it does not read r.rec.
func (ns *netStream) recordingEnded(r *recording, name string, err error) {
	c := ns.c
	if err == nil {
		c.log.Info("recording stopped", zap.String("stream", name))
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
