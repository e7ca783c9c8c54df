// Package rtmfp implements the Secure Real-Time Media Flow Protocol (RTMFP,
// RFC 7016) with the Flash cryptography profile (RFC 7425), as spoken by
// Flash Player/AIR, rtmfp-cpp and MonaServer-style peers: the session layer
// (handshake, keys, keepalive, close, mobility, congestion control) and the
// flow layer (ordered or unordered, fully or partially reliable message
// flows with metadata and return associations).
//
// # Layout
//
//   - wire: the plain packet and one file per chunk type (RFC 7016 §2),
//     append-style encoders and zero-copy parsers.
//   - flashcrypto: the Flash profile (AES-128-CBC packets, checksum or
//     HMAC-SHA256 integrity, session sequence numbers, Diffie-Hellman groups
//     2, 5, 14 and 16, key derivation, certificates, peer IDs, endpoint
//     discriminators).
//   - congestion: the TCP-compatible window controller and pacer that RFC
//     7016 §3.5.2 requires.
//   - internal/testnet (at the module root, shared with the server's
//     tests): a lossy, rebinding UDP relay.
//   - this package: Endpoint (one UDP socket, both roles), Session, SendFlow
//     and RecvFlow.
//
// # Concurrency
//
// Goroutines. One per socket reads datagrams in batches (recvmmsg on
// Linux) into pooled buffers and demultiplexes them by session ID (RFC
// 7016 §2.2.2). Startup packets (session ID 0) are answered on that
// goroutine; the responder keeps no state for an IHello (the cookie
// carries everything, see cookie.go) and runs the Diffie-Hellman
// computation of an IIKeying on a bounded pool of workers, so a handshake
// flood costs neither memory nor read-loop time. Every other datagram is
// handed, without copying, to its session's queue. One goroutine per
// session (Session.run) then decrypts what was queued, runs the session's
// timers and sends what API calls left to send. Close releases every
// goroutine: a session's ends with it, the socket's and the workers' with
// the Endpoint. A reader need not have a goroutine per flow either:
// Session.Readable signals new flows and readable ones alike, and
// TryAcceptFlow and TryReadMessage take what there is, so a server serves
// each client session on one goroutine besides the session's own.
//
// Ownership. A session's mutex (Session.mu) owns all of the session's
// state: its own fields, its flows', its packet codecs, its outgoing
// batch and its run loop's timer. Whichever goroutine holds it may do the
// session's protocol work: the run loop, an API call (Write, ReadMessage,
// OpenFlow, ... change flow state and wake the run loop; they never wait
// on the network), the read goroutine for small datagrams and a writer
// calling Flush (both below). Sessions therefore scale across cores, each
// changed under its own lock. Nothing that holds the lock waits: no socket
// write, no channel operation that can block (only non-blocking
// notifications), no lock but the Endpoint's, taken briefly to register a
// session ID and never held while taking a session's.
//
// Writing. Packets are built and encrypted under the lock into the
// session's batch and written to the socket after the lock is released,
// by one goroutine at a time, the session's writer (Session.unlockAndWrite,
// the one place a session's packets reach the socket). A goroutine that
// builds packets while another writes leaves them to that writer, so
// packets go out in the order they were built (the peer's replay window
// needs that with session sequence numbers) and no one waits for the
// socket to get the lock: not the read goroutine, not an API call, not a
// fan-out flushing hundreds of sessions. Startup packets (RHello, Cookie
// Change, Redirect, RIKeying) are written by the read goroutine, a keying
// worker or SendRedirect, holding no session's lock; the socket
// serialises concurrent writers itself.
//
// Each batch goes out with one system call (sendmmsg). A run of full-size
// packets to one peer — a video frame's fragments — goes as a single
// message with UDP generic segmentation offload (UDP_SEGMENT): the kernel
// cuts it into datagrams below the IP layer, so the burst crosses the IP
// and device path once instead of once per packet; the peer receives
// ordinary datagrams. Encryption is then the only per-packet work left on
// the sender, and packets are encrypted four at a time with their CBC
// chains side by side (flashcrypto's SealGroup, an AES-NI loop on amd64),
// so that one chain's AES steps fill the others' waits.
//
// Two shortcuts keep a live fan-out from waking a session per packet.
// Small datagrams (a player's acknowledgements, most of what a server
// receives) are processed on the read goroutine when the session's lock
// is free, and the run loop is woken only if something became due before
// its timer. And a writer that passes WriteOptions.Deferred, then calls
// Session.Flush (the server's fan-out, once per frame per player), builds
// and encrypts the packets on its own goroutine and writes them once the
// lock is released, re-arming the run loop's timer for the
// retransmission deadline that sending set; the run loop then only wakes
// for timers. Both fall back to waking the session whenever its lock is
// taken.
//
// # Data path
//
// No allocation happens per packet in steady state: datagram buffers come
// from a pool, message bytes are stored in pooled blocks (4, 16 or 64 KiB,
// as a flow's use needs) shared by the fragments that point into them,
// encoders append into the packet buffer, and decryption happens in
// place. The receive side assembles a message into a per-flow buffer that
// ReadMessage or TryReadMessage returns (valid until the flow's next
// read). Every peer-declared length is bounded: receive buffers by the
// advertised window, sequence-number sets by a range count, reassembly by
// the window, metadata by MaxMetadata, handshake fields by the packet size.
//
// # Reliability and congestion control
//
// Acknowledgements use whichever of the Bitmap and Range encodings is
// shorter, are sent at once on gaps, duplicates and every second data
// packet, and otherwise after at most 200 ms (RFC 7016 §3.6.3.4). Loss is
// detected by three negative acknowledgements counted in transmission order
// (§3.6.2.5, fast retransmit) and by the retransmission timeout with
// exponential backoff (§3.5.2.2, §3.6.2.6). Messages written with a
// deadline are abandoned when it passes; the forward sequence number (and
// dedicated FSN updates) lets the receiver skip them, so ReadMessage
// reports a gap instead of stalling. The receive window, buffer probes and
// flow exceptions implement §3.6.2.9-3.6.2.10. The congestion window follows
// NewReno (slow start, additive increase, halving per loss episode, restart
// after a timeout) and is paced over the smoothed round-trip time.
//
// # Addresses and mobility
//
// A verified packet from a new address triggers the mobility check of RFC
// 7016 §3.5.4.2 (a Ping carrying an HMAC of the address); the session moves
// to the new address when the Ping Reply comes back from it, and reports
// EventAddressChanged.
//
// # Interoperability choices
//
// The responder's certificate lists ephemeral groups and accepts URL EPDs;
// its cookies are 64 bytes; its RIKeying starts with the legacy negotiation
// bytes librtmfp requires unless the initiator asks for HMAC or sequence
// numbers (rtmfp-cpp's default), which it then honours; packets never exceed
// 1200 bytes. Fingerprint EPDs that name another peer are passed to
// Config.UnmatchedHello so that a rendezvous layer can answer with
// Endpoint.SendRedirect and Session.ForwardIHello.
//
// # Flash-profile receive rules
//
// Flash Player, AIR and librtmfp (which copies them) accept less than RFC
// 7016 allows; what a receiver drops without a word, a sender must never
// send:
//
//   - Every packet carries a timestamp. The RFC lets a sender omit one that
//     has not changed since its last packet; these receivers read the
//     timestamp field unconditionally and drop a packet whose flags lack it
//     (librtmfp logs "Unexpected RTMFP marker"). We stamp every packet.
//   - A startup packet's flags byte is exactly 0x0b (timestamp, startup
//     mode): no echo, no time-critical bits.
//   - A session packet's mode is the far end's role (initiator 1, responder
//     2); the time-critical, time-critical-reverse and echo bits are free.
//     Our echo is the last received timestamp advanced by the time we held
//     it, sent whenever that value changes; Flash-profile peers take their
//     round-trip time from it.
//   - The responder's RIKeying starts with the legacy negotiation bytes
//     unless the initiator asked for HMAC or sequence numbers (see below).
//
// wire.FlashAccepts states the header rules; Config.FlashStrict makes an
// endpoint drop, and count in Endpoint.FlashDropped, every packet that
// breaks them, so that tests whose clients run strict fail if a server
// ever sends what Flash would drop.
//
// # Glare
//
// Two peers that dial each other by peer ID at once end up with one
// session (RFC 7016 §3.5.1.3): an IIKeying from a peer we are still
// dialing is ignored if our certificate sorts lower (ours prevails, and
// the peer gives way when our IIKeying reaches it); otherwise the
// responder session it opens supersedes our opening one, and our Dial
// returns it rather than Accept. Only fingerprint dials can glare: a URL
// names a server, which does not dial us.
//
// Not implemented: Packet Fragment chunks (0x7f), which no known peer
// sends.
package rtmfp
