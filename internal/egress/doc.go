// Package egress is the I/O engine of the live fan-out: what makes
// writing one frame to thousands of players (RTMP, HTTP-FLV) cheap, kept
// apart from the transport glue that uses it and from package media,
// which knows its consumers only as media.Sink.
//
//   - Socket: a TCP connection written with writev and read with read(2)
//     directly (raw system calls, no poll bookkeeping), never blocking the
//     goroutine that writes: what the socket does not take waits in the
//     socket for the connection's own sender goroutine.
//   - SendBatch and BatchPool: the writes of a fan-out share gathered and
//     made with one io_uring_enter (Linux), which costs a third less CPU
//     than a writev per player where entering the kernel is dear.
//   - Share and BatchWaker: a fan-out share's sinks woken with one batch,
//     into which each transport that can (a BatchWaker, which the glue
//     finds behind a sink) prepares its write.
//   - SharedFD and Loan: the rule that keeps a batch from writing to a
//     descriptor number the kernel has already given to another socket.
//     The number is reachable only through a Loan, and closing waits for
//     the loan; lending twice or returning twice panics.
//   - Poller: an epoll set that holds quiet readers (players), so that an
//     idle connection has no goroutine and no stack. A PollHandle's state
//     is the poller's; a connection only parks and wakes it.
//   - Fanout (a media.Fanout): a frame's sinks woken in shares by several
//     goroutines, each share gathered by Config.Share (into a SendBatch),
//     and merged writes (merge.go): past a share of a core, each player is
//     written every few frames, in staggered groups.
//
// System-call numbers and structures come from golang.org/x/sys/unix;
// where a platform lacks io_uring or epoll, the types exist and do
// nothing (batches are nil, nothing parks), so the glue has one path.
package egress
