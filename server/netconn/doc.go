// Package netconn is the NetConnection/NetStream layer that every transport
// feeds: command dispatch (connect, createStream, publish, play, …), the
// connection and stream state machines, and the AMS status codes, in one
// implementation for RTMP and RTMFP alike.
//
// A transport owns its network I/O. It hands each incoming message to
// Conn.HandleMessage from one reader goroutine at a time (the RTMP
// transport ends a quiet connection's reader and starts another when
// input comes: calls are ordered, not always on one goroutine), and
// drains Conn.Outbox — commands and status messages first, then media
// popped from the connection's subscriber queues — from whichever
// goroutine its Waker (Outbox.SetWaker) made its sender: for a player
// that keeps up, the publisher's own goroutine, writing without waiting.
// Each play is the media.Sink of its subscriber queue, and wakes the
// transport's Waker; SinkWaker lets a fan-out find the transport behind
// a sink to gather its writes.
// The core never blocks on the network, so a slow client costs only its
// own queues.
package netconn
