package script

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/protocol"
)

// errRelayStopped is the reason a relay gives when it is replaced or stopped.
var errRelayStopped = errors.New("script: stream relay stopped")

// stream is the script object of a live stream of the instance (AMS SSAS
// Stream class): a client's publication, or a server-side stream that
// republishes another one (Stream.get(name).play(source)).
type stream struct {
	h     *host
	name  string
	obj   *goja.Object
	relay *relay
	rec   *recorder.Recorder // the recording Stream.record started
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

// play republishes source as this stream; play(false) stops. It returns
// false when the name is already published by someone else.
func (s *stream) play(call goja.FunctionCall) goja.Value {
	s.stopRelay()
	arg := call.Argument(0)
	if b, ok := arg.Export().(bool); (ok && !b) || goja.IsNull(arg) || goja.IsUndefined(arg) {
		return s.h.vm.ToValue(true)
	}
	source := arg.String()
	reg := s.h.inst.Streams()
	r := &relay{stop: make(chan struct{}), done: make(chan struct{}), log: s.h.log}
	r.last.Store(time.Now().UnixNano())
	out, err := reg.Publish(s.name, r)
	if err != nil {
		s.h.log.Info("Stream.play: name in use", zap.String("stream", s.name), zap.Error(err))
		return s.h.vm.ToValue(false)
	}
	r.out = out
	r.sink = media.NewChanSink(func() { r.Evict(media.ErrNotFound) })
	r.sub = media.NewSubscriber(s.h.cfg.Subscriber, r.sink)
	if _, err := reg.Subscribe(source, r.sub, false); err != nil {
		out.Unpublish(r)
		s.h.log.Info("Stream.play: cannot subscribe", zap.String("source", source), zap.Error(err))
		return s.h.vm.ToValue(false)
	}
	s.relay = r
	go r.run()
	s.h.log.Info("republishing", zap.String("source", source), zap.String("stream", s.name))
	return s.h.vm.ToValue(true)
}

func (s *stream) stopRelay() {
	if s.relay != nil {
		s.relay.Evict(errRelayStopped)
		<-s.relay.done
		s.relay = nil
	}
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

// relay copies one stream's frames into another; it is the publisher of
// the stream it writes.
type relay struct {
	out  *media.Stream
	sub  *media.Subscriber
	sink *media.ChanSink
	stop chan struct{}
	done chan struct{}
	once sync.Once
	last atomic.Int64 // unix nanoseconds of the last frame copied
	log  *zap.Logger
}

// Silence implements media.Publisher.
func (r *relay) Silence() time.Duration { return time.Since(time.Unix(0, r.last.Load())) }

// Evict implements media.Publisher; it does not wait for the relay to stop.
func (r *relay) Evict(reason error) {
	r.once.Do(func() {
		r.log.Debug("relay stopping", zap.Error(reason))
		close(r.stop)
	})
}

func (r *relay) run() {
	defer close(r.done)
	defer func() {
		if s := r.sub.Stream(); s != nil {
			s.Unsubscribe(r.sub)
		}
		r.out.Unpublish(r)
	}()
	for {
		select {
		case <-r.stop:
			return
		case <-r.sink.C:
		}
		for {
			e, ok := r.sub.Pop()
			if !ok {
				break
			}
			if e.Frame != nil {
				r.last.Store(time.Now().UnixNano())
				r.out.Write(r, e.Frame)
			}
		}
	}
}
