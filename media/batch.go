package media

// Batch gathers what one goroutine's share of a fan-out starts in its
// subscribers' notify functions, so that it can be done together when the
// share is signalled (Flush). The server's RTMP transport prepares each
// player's write when notified and makes a share's writes in one system
// call (io_uring), which costs far less than a system call per player.
//
// A notify function gets nil outside a fan-out, and may get a Batch of a
// kind it does not know; it then does its work there and then.
type Batch interface {
	// Flush does what was gathered and gives the batch back to where it
	// came from (Config.Batch); the fan-out does not use it afterwards.
	Flush()
}

// signalAll signals subs, each with a batch taken for them (Config.Batch;
// none for an empty share), and then flushes it.
func (r *Registry) signalAll(subs []*Subscriber) {
	if len(subs) == 0 {
		return
	}
	var b Batch
	if r.cfg.Batch != nil {
		b = r.cfg.Batch()
	}
	for _, sub := range subs {
		sub.notify(b)
	}
	if b != nil {
		b.Flush()
	}
}
