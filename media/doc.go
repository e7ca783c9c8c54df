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
// Outputs. media knows its consumers only as Sink (sink.go): a player's
// connection, an HTTP response, a muxer or a recorder each implement Wake
// (there are entries to take) and Lagging (fallen too far behind), and
// take their frames from the Subscriber queue with PopBatch. Nothing here
// knows sockets or system calls.
//
// Fan-out. Stream.Write runs on the publisher's goroutine: it pushes the
// frame into every subscriber's queue under the stream lock, then — with
// the lock released — hands the sinks to wake to the stream's Fanout. The
// default Fanout wakes each in turn; an output whose wake is a system call
// supplies its own through Config.Fanout (the server's RTMP players use
// one that wakes them in shares on several cores, gathers each share's
// writes into one system call, and past a share of a core writes each
// player every few frames). A sink may write to its socket inside Wake,
// without blocking, so a player that keeps up costs no goroutine wake-up
// and no copy. Audio of a stream with video is not woken at once
// (Config.AudioBatch): it waits, at most the batch time, for the next
// video frame and goes out in the same wake, which halves the writes per
// player of a typical stream (30 video and 43 audio messages a second)
// without delaying video.
//
// The publisher never waits for a subscriber. A subscriber whose queue is full
// drops frames until the next keyframe (so the decoder restarts cleanly) and,
// if it stays behind past its lag bound, its sink is told (Sink.Lagging);
// other subscribers and the publisher are unaffected.
//
// Enhanced RTMP (FourCC video and audio headers, multitrack) passes through
// byte for byte; the parsers in codec.go only look far enough to find
// keyframes and sequence headers.
package media
