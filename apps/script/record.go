package script

import (
	"errors"
	"io/fs"

	"github.com/dop251/goja"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/media/vod"
	"github.com/nimbus-media/nimbus/protocol"
)

// Recordings is what Stream.record, Stream.length and Stream.play need of
// the server. The server gives its netconn.Recordings, which publishers
// and the admin API start their recorders through too, so that a stream a
// script records goes to the same file under the same recorder (and a
// second recorder of it is refused), and which clients' plays open files
// through, so that a name means the same file (and shares its index)
// whoever plays it.
type Recordings interface {
	// Start records the live stream called name of inst until the
	// recorder is stopped or the publisher leaves; onEnd (from the
	// recorder's goroutine) is told nil or why it failed.
	Start(inst *apps.Instance, name string, appendMode bool, onEnd func(error)) (*recorder.Recorder, error)
	// Length is the recorded stream's duration in seconds.
	Length(inst *apps.Instance, name string) (float64, error)
	// OpenVOD opens the recorded stream called name of inst to play it;
	// a missing file is an error wrapping fs.ErrNotExist.
	OpenVOD(inst *apps.Instance, name string) (vod.Source, error)
}

// errNoRecordings: the engine was configured without Recordings.
var errNoRecordings = errors.New("script: recording is not configured")

// record is Stream.record(mode): "record" (also the default) replaces the
// stream's file, "append" and "appendWithGap" continue it, false stops.
// It returns whether the call did what it asked; the outcome reaches the
// script as statuses (Stream.onStatus, or application.onStatus for the
// errors it does not handle), after record returns, as AMS sends them.
func (s *stream) record(call goja.FunctionCall) goja.Value {
	mode := "record"
	if arg := call.Argument(0); !goja.IsUndefined(arg) && !goja.IsNull(arg) {
		if b, ok := arg.Export().(bool); ok {
			if b {
				panic(s.h.vm.NewTypeError(`Stream.record: mode must be "record", "append" or false`))
			}
			s.stopRecording()
			return s.h.vm.ToValue(true)
		}
		mode = arg.String()
	}
	var appendMode bool
	switch mode {
	case "record":
	case "append", "appendWithGap":
		appendMode = true
	default:
		panic(s.h.vm.NewTypeError("Stream.record: unknown mode %q", mode))
	}
	s.stopRecording()
	if s.h.cfg.Recordings == nil {
		s.refused(errNoRecordings)
		return s.h.vm.ToValue(false)
	}
	// The recorder is read by the end's status event, which runs on this
	// goroutine after record has returned, so after it is set.
	var rec *recorder.Recorder
	rec, err := s.h.cfg.Recordings.Start(s.h.inst, s.name, appendMode, func(err error) {
		s.h.post(event{run: func() { s.recordingEnded(rec, err) }})
	})
	if err != nil {
		s.refused(err)
		return s.h.vm.ToValue(false)
	}
	s.rec = rec
	s.h.log.Info("Stream.record", zap.String("stream", s.name), zap.String("file", rec.Path()), zap.Bool("append", appendMode))
	s.postStatus(protocol.LevelStatus, protocol.RecordStart, "Recording "+s.name+".")
	return s.h.vm.ToValue(true)
}

// refused reports a recording that could not start.
func (s *stream) refused(err error) {
	s.h.log.Warn("Stream.record refused", zap.String("stream", s.name), zap.Error(err))
	desc := "Cannot record " + s.name + ": " + err.Error() + "."
	if errors.Is(err, recorder.ErrBusy) {
		desc = s.name + " is being recorded already."
	}
	s.postStatus(protocol.LevelError, protocol.RecordNoAccess, desc)
}

// stopRecording stops the stream's recording, if it has one; its end is
// reported (NetStream.Record.Stop) by recordingEnded.
func (s *stream) stopRecording() {
	if s.rec != nil {
		s.rec.Stop()
		s.rec = nil
	}
}

// recordingEnded runs on the script goroutine when a recording ended:
// stopped, its publisher gone (Record.Stop), or failed (Record.Failed).
func (s *stream) recordingEnded(rec *recorder.Recorder, err error) {
	if s.rec == rec {
		s.rec = nil
	}
	if err != nil {
		s.h.log.Error("Stream.record failed; the stream stays live", zap.String("stream", s.name), zap.Error(err))
		s.status(protocol.LevelError, protocol.RecordFailed, "Recording "+s.name+" failed: "+err.Error()+".")
		return
	}
	s.status(protocol.LevelStatus, protocol.RecordStop, "Stopped recording "+s.name+".")
}

// postStatus delivers a status once the running handler has returned.
func (s *stream) postStatus(level, code, desc string) { s.postStatusFor(level, code, desc, s.name) }

// postStatusFor is postStatus with details naming another stream (a
// playlist's item).
func (s *stream) postStatusFor(level, code, desc, details string) {
	s.h.post(event{run: func() { s.statusFor(level, code, desc, details) }})
}

// status calls the Stream's onStatus with the info object, details
// naming the stream; an error the stream does not handle goes to
// application.onStatus (AMS's catch-all for unhandled status events).
func (s *stream) status(level, code, desc string) { s.statusFor(level, code, desc, s.name) }

// statusFor is status with details naming another stream: AMS names the
// playlist item a play status is about.
func (s *stream) statusFor(level, code, desc, details string) {
	info := s.h.vm.NewObject()
	_ = info.Set("level", level)
	_ = info.Set("code", code)
	_ = info.Set("description", desc)
	_ = info.Set("details", details)
	if fn, ok := goja.AssertFunction(s.obj.Get("onStatus")); ok {
		_, err := fn(s.obj, info)
		s.h.check("Stream.onStatus", err)
		return
	}
	if level != protocol.LevelError {
		return
	}
	if fn, ok := goja.AssertFunction(s.h.app.Get("onStatus")); ok {
		_, err := fn(s.h.app, info)
		s.h.check("application.onStatus", err)
	}
}

// streamLength is Stream.length(name): the recorded file's duration in
// seconds, 0 when there is none (AMS answers 0 for a missing file).
func (h *host) streamLength(name string) float64 {
	if h.cfg.Recordings == nil {
		return 0
	}
	d, err := h.cfg.Recordings.Length(h.inst, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.log.Info("Stream.length", zap.String("stream", name), zap.Error(err))
		}
		return 0
	}
	return d
}
