package script

import (
	"fmt"
	"io/fs"

	"github.com/dop251/goja"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/media/vod"
	"github.com/nimbus-media/nimbus/protocol"
)

// stream is the script object of a live stream of the instance (AMS SSAS
// Stream class): a client's publication, or a server-side stream that
// plays live streams and recorded files into itself
// (Stream.get(name).play(source, start, length, reset)).
type stream struct {
	h    *host
	name string
	obj  *goja.Object
	list *playlist          // what Stream.play publishes, nil when nothing
	rec  *recorder.Recorder // the recording Stream.record started
}

func (h *host) installStream() {
	ns := h.vm.NewObject()
	_ = ns.Set("get", func(name string) *goja.Object { return h.streamObject(name).obj })
	_ = ns.Set("length", h.streamLength)
	_ = h.vm.Set("Stream", ns)
}

// streamObject returns the script object for the stream called name,
// the same one each time.
func (h *host) streamObject(name string) *stream {
	if s := h.streams[name]; s != nil {
		return s
	}
	s := &stream{h: h, name: name, obj: h.vm.NewObject()}
	h.streams[name] = s
	_ = s.obj.Set("name", name)
	_ = s.obj.Set("play", s.play)
	_ = s.obj.Set("send", s.send)
	_ = s.obj.Set("record", s.record)
	return s
}

// play is AMS's Stream.play(name, startTime, length, reset,
// remoteConnection): it publishes the stream, if it is not already, and
// puts name in its playlist — first and at once (reset true, the
// default, after NetStream.Play.Reset), or after the items queued (reset
// false). startTime and length are in seconds, as in AMS's Server-Side
// ActionScript: start -2 (the default) plays the live stream if it is
// published, else the recorded one, else waits for a publisher; -1 the
// live stream only (waiting for it); ≥ 0 the recorded stream from that
// time (any other negative is -2). length -1 (the default) plays to the
// end (a live stream until its publisher leaves), 0 one frame, more that
// many seconds. reset 2 and 3 are taken as false and true: the files'
// messages are always paced. play(false) stops, clears the playlist and
// unpublishes the stream. It returns false when the name is published by
// someone else or the playlist is full; an item that cannot play is
// skipped later, with a status. A remoteConnection (a stream of another
// server) throws: Nimbus has no server-side NetConnection yet.
func (s *stream) play(call goja.FunctionCall) goja.Value {
	arg := call.Argument(0)
	if b, ok := arg.Export().(bool); (ok && !b) || goja.IsNull(arg) || goja.IsUndefined(arg) {
		if stopped := s.stopPlaylist(); stopped != "" {
			s.postStatusFor(protocol.LevelStatus, protocol.PlayStop, "Stopped playing "+stopped+".", stopped)
		}
		return s.h.vm.ToValue(true)
	}
	if rc := call.Argument(4); !goja.IsUndefined(rc) && !goja.IsNull(rc) {
		panic(s.h.vm.NewGoError(fmt.Errorf("Stream.play: %w", errRemoteConnection)))
	}
	it := playItem{name: arg.String(), start: startLiveOrFile, length: -1}
	if v := call.Argument(1); !goja.IsUndefined(v) && !goja.IsNull(v) {
		if it.start = v.ToFloat(); it.start < 0 && it.start != startLiveOnly {
			it.start = startLiveOrFile
		}
	}
	if v := call.Argument(2); !goja.IsUndefined(v) && !goja.IsNull(v) {
		it.length = max(v.ToFloat(), -1)
	}
	reset := true
	if v := call.Argument(3); !goja.IsUndefined(v) && !goja.IsNull(v) {
		switch x := v.Export().(type) {
		case bool:
			reset = x
		default:
			n := v.ToInteger()
			reset = n == 1 || n == 3
		}
	}
	if s.list != nil && s.list.ended() {
		s.list = nil // evicted: a publisher took the name over
	}
	if s.list == nil {
		p, err := newPlaylist(s)
		if err != nil {
			s.h.log.Info("Stream.play: name in use", zap.String("stream", s.name), zap.Error(err))
			return s.h.vm.ToValue(false)
		}
		s.list = p
	}
	if reset {
		// Before the goroutine can report the item's start.
		s.postStatusFor(protocol.LevelStatus, protocol.PlayReset, "Playing and resetting "+it.name+".", it.name)
	}
	if !s.list.add(it, reset) {
		s.h.log.Warn("Stream.play: playlist full", zap.String("stream", s.name), zap.String("item", it.name),
			zap.Int("limit", maxPlaylistItems))
		return s.h.vm.ToValue(false)
	}
	s.h.log.Info("Stream.play", zap.String("stream", s.name), zap.String("item", it.name),
		zap.Float64("start", it.start), zap.Float64("length", it.length), zap.Bool("reset", reset))
	return s.h.vm.ToValue(true)
}

// stopPlaylist ends what Stream.play publishes, if anything, and
// returns the item that was playing.
func (s *stream) stopPlaylist() string {
	if s.list == nil {
		return ""
	}
	stopped := s.list.stopAndWait()
	s.list = nil
	return stopped
}

// openVOD opens a recorded stream of the instance for a playlist (from
// its goroutine: cfg and inst do not change). Without Recordings there
// is no file of any name.
func (h *host) openVOD(name string) (vod.Source, error) {
	if h.cfg.Recordings == nil {
		return nil, fmt.Errorf("%w: %w", errNoRecordings, fs.ErrNotExist)
	}
	return h.cfg.Recordings.OpenVOD(h.inst, name)
}

// send delivers a data message (handler, args...) to the stream's players,
// for server-side and client-published streams alike (AMS Stream.send).
func (s *stream) send(call goja.FunctionCall) goja.Value {
	vals := append([]any{call.Argument(0).String()}, s.h.argsFromJS(call.Arguments[min(1, len(call.Arguments)):])...)
	payload, err := protocol.AppendValues(nil, vals...)
	if err != nil {
		panic(s.h.vm.NewGoError(err))
	}
	target := s.h.inst.Streams().Get(s.name)
	if target == nil || !target.Published() {
		return s.h.vm.ToValue(false)
	}
	target.Write(target.Publisher(), &media.Frame{Type: protocol.TypeDataAMF0, Payload: payload})
	return s.h.vm.ToValue(true)
}
