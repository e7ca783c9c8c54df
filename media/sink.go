package media

// Sink is the consumer behind one subscriber: an RTMP or RTMFP player's
// connection, an HTTP-FLV response, an HLS muxer, a recorder. The stream
// queues its shared frames in the subscriber (bounded, dropping to the next
// keyframe when the sink falls behind) and wakes the sink; the sink takes
// them when it can (Subscriber.PopBatch). This is all media knows of an
// output: writing a new one means implementing Sink.
type Sink interface {
	// Wake says the subscriber's queue has entries to take. It is called
	// from the publisher's goroutine (or a Fanout's): it must not block
	// and must not call back into the stream, though it may take the
	// entries at once.
	Wake()
	// Lagging says the subscriber has been dropping frames for longer
	// than its lag bound (SubscriberConfig.MaxLag): the sink cannot keep
	// up and is expected to end. It is called once, from the publisher's
	// goroutine, and must not block.
	Lagging()
}

// Audience is implemented by a sink that serves many players at once (an
// HLS muxer, shared by every HLS client of the stream): monitoring counts
// its Viewers, not one, among the stream's subscribers of its label.
// Viewers is called under the stream's lock: it must be cheap and must
// not call back into the stream.
type Audience interface {
	Viewers() int
}

// Fanout wakes the sinks a frame of one stream was queued for. The
// registry makes one per stream when it is first published
// (Config.Fanout) and closes it when the publisher leaves. The default
// wakes each sink in turn on the writer's goroutine, which suits sinks
// whose wake costs little; an output whose wake is a system call supplies
// one that wakes many together, on several cores, or every few frames.
type Fanout interface {
	// Wake wakes sinks, at once or soon: a Fanout may hold some back
	// for a few frames (merged writes) but must wake them in the end
	// even if no frame follows. The slice is reused after Wake returns.
	Wake(sinks []Sink)
	// FramesPerWrite is how many frames a sink gets per wake, for
	// monitoring: 1, or more while wakes are held back.
	FramesPerWrite() int
	// Close ends the Fanout; Wake is not called after it.
	Close()
}

// serialFanout wakes each sink in turn on the writer's goroutine.
type serialFanout struct{}

func (serialFanout) Wake(sinks []Sink) {
	for _, s := range sinks {
		s.Wake()
	}
}

func (serialFanout) FramesPerWrite() int { return 1 }
func (serialFanout) Close()              {}

// ChanSink is a Sink for a consumer that waits on a channel: Wake signals
// the channel without blocking, and Lagging calls OnLag (if set).
type ChanSink struct {
	C     chan struct{}
	OnLag func()
}

// NewChanSink makes a ChanSink with a one-slot channel.
func NewChanSink(onLag func()) *ChanSink {
	return &ChanSink{C: make(chan struct{}, 1), OnLag: onLag}
}

// Wake implements Sink.
func (s *ChanSink) Wake() {
	select {
	case s.C <- struct{}{}:
	default:
	}
}

// Lagging implements Sink.
func (s *ChanSink) Lagging() {
	if s.OnLag != nil {
		s.OnLag()
	}
}
