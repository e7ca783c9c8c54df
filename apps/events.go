package apps

import "github.com/nimbus-media/nimbus/media"

// Events receives what happens in the applications' instances, for
// monitoring (the admin dashboard's event log and live counters). The
// methods run on the goroutine that caused the event, with registry locks
// and possibly the client's own lock held: they must return at once,
// without blocking and without calling back into the registry or the
// client (not even Info), so an implementation only queues.
type Events interface {
	// ClientConnected: c's connect was accepted into inst.
	ClientConnected(inst *Instance, c Client)
	// ClientDisconnected: c left inst. c.Info() still reports its totals.
	ClientDisconnected(inst *Instance, c Client)
	// StreamPublished: a publisher started on the stream name of inst.
	StreamPublished(inst *Instance, name string)
	// StreamUnpublished: the stream name of inst lost its publisher.
	StreamUnpublished(inst *Instance, name string)
}

// instanceEvents adapts Events to one instance's media registry.
type instanceEvents struct {
	inst *Instance
	ev   Events
}

var _ media.Events = instanceEvents{}

func (e instanceEvents) StreamPublished(name string)   { e.ev.StreamPublished(e.inst, name) }
func (e instanceEvents) StreamUnpublished(name string) { e.ev.StreamUnpublished(e.inst, name) }
