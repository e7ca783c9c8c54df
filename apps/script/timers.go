package script

import (
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"
)

// timer is one setInterval/setTimeout. Its time.Timer only posts an event;
// the callback runs on the script goroutine like everything else.
type timer struct {
	id       int64
	t        *time.Timer
	fn       goja.Callable
	this     goja.Value
	args     []goja.Value
	every    time.Duration
	repeat   bool
	canceled bool
}

// minInterval keeps a script from spinning the event loop with 0 ms timers.
const minInterval = time.Millisecond

// setTimer implements setInterval(fn, ms, ...args),
// setInterval(obj, "method", ms, ...args) and setTimeout(fn, ms, ...args).
func (h *host) setTimer(call goja.FunctionCall, repeat bool) goja.Value {
	if len(h.timers) >= h.cfg.MaxTimers {
		panic(h.vm.NewGoError(ErrTooManyTimers))
	}
	args := call.Arguments
	t := &timer{repeat: repeat, this: goja.Undefined()}
	if fn, ok := goja.AssertFunction(call.Argument(0)); ok {
		t.fn = fn
		args = args[min(1, len(args)):]
	} else if obj, ok := call.Argument(0).(*goja.Object); ok {
		fn, ok := goja.AssertFunction(obj.Get(call.Argument(1).String()))
		if !ok {
			panic(h.vm.NewTypeError("setInterval: %s is not a method", call.Argument(1).String()))
		}
		t.fn, t.this = fn, obj
		args = args[min(2, len(args)):]
	} else {
		panic(h.vm.NewTypeError("setInterval/setTimeout needs a function"))
	}
	var ms int64
	if len(args) > 0 {
		ms = args[0].ToInteger()
		args = args[1:]
	}
	t.every = max(time.Duration(ms)*time.Millisecond, minInterval)
	t.args = append([]goja.Value(nil), args...)
	h.lastTimer++
	t.id = h.lastTimer
	h.timers[t.id] = t
	t.t = time.AfterFunc(t.every, func() { h.tick(t) })
	return h.vm.ToValue(t.id)
}

// tick runs on the timer's goroutine and queues the callback. An interval
// is re-armed only after its callback ran, so ticks never pile up in the
// queue; a tick that finds the queue full is dropped.
func (h *host) tick(t *timer) {
	ok := h.post(event{run: func() {
		if t.canceled {
			return
		}
		if !t.repeat {
			delete(h.timers, t.id)
		}
		_, err := t.fn(t.this, t.args...)
		h.check("timer", err)
		if t.repeat && !t.canceled {
			t.t.Reset(t.every)
		}
	}})
	if !ok {
		h.log.Debug("timer tick dropped", zap.Int64("timer", t.id))
		if t.repeat {
			t.t.Reset(t.every)
		}
	}
}

func (h *host) clearTimer(id int64) {
	if t := h.timers[id]; t != nil {
		t.canceled = true
		t.t.Stop()
		delete(h.timers, id)
	}
}
