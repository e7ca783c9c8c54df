// Package media routes live audio, video and data from one publisher to many
// subscribers inside an application instance.
//
// Design. A publisher's message is classified once into an immutable *Frame
// (keyframe, sequence header, metadata) and the same pointer is pushed into
// every subscriber's bounded queue: nothing is copied per subscriber. Each
// Stream keeps what a late joiner needs to start decoding at once — the
// metadata, the codec sequence headers and the frames since the last video
// keyframe (the GOP cache) — and replays it into a new subscriber's queue
// under the stream lock, so the joiner sees those frames before any live one.
//
// Fan-out. Stream.Write runs on the publisher's goroutine: it pushes the
// frame into every subscriber's queue under the stream lock, then — with
// the lock released — calls each subscriber's notify function. A transport
// may write to the player's socket inside notify (the RTMP transport does,
// without blocking), so a player that keeps up costs no goroutine wake-up
// and no copy: one vectored write of bytes shared by all players. Audio of
// a stream with video is not notified at once (Config.AudioBatch): it
// waits, at most the batch time, for the next video frame and goes out in
// the same write, which halves the writes per player of a typical stream
// (30 video and 43 audio messages a second) without delaying video.
// Because every notify may be a system call, the last of N players would
// wait for the N-1 writes before its own; a frame with many subscribers is
// therefore notified by up to Config.Parallel goroutines at once (GOMAXPROCS
// by default: the writer's and helper goroutines the stream keeps while
// it is published), each taking an equal share of the list, and Write
// returns when all are done — unless the fan-out would keep every core
// busy for more than a few milliseconds, because the runtime polls the
// network only from an idle core: a server at its limit then fans out on
// one goroutine and leaves the other cores to input.
//
// Batches. A notify function also gets the signalling goroutine's Batch
// (Config.Batch), which is flushed once the goroutine's share has been
// notified: a transport may prepare its write in notify and leave it to
// the batch. The server's RTMP transport does, and its batch sends dozens
// of players' writes with one io_uring system call, which costs a third
// less CPU than as many writev calls on the benchmark machine, where
// entering the kernel is dear.
//
// Merged writes. A write costs about the same whatever it carries, so a
// stream whose fan-out would fill most of the frame interval on one core
// (Config.MergeAbove, measured from the fan-out's own timing) writes each
// player every second, third or fourth frame, with the frames since its
// last write in one call; the players are split into staggered groups, so
// every frame still goes to a group and the work stays spread over the
// frame interval. A frame then waits at most 100 ms; small audiences never
// wait (merge.go).
//
// The publisher never waits for a subscriber. A subscriber whose queue is full
// drops frames until the next keyframe (so the decoder restarts cleanly) and,
// if it stays behind past its lag bound, is told to go via its OnOverflow
// callback; other subscribers and the publisher are unaffected.
//
// Enhanced RTMP (FourCC video and audio headers, multitrack) passes through
// byte for byte; the parsers in codec.go only look far enough to find
// keyframes and sequence headers.
package media
