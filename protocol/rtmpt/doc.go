// Package rtmpt is RTMPT, RTMP tunnelled through HTTP POST requests, which
// Flash Player falls back to where only HTTP gets through (docs/rtmpt.md).
//
// The server side is a Handler: it parses request paths (ParsePath), keeps
// the table of open sessions, and gives each session's byte stream to the
// caller as a net.Conn (Conn), which the caller serves with the same RTMP
// connection handler as a TCP socket. The package knows nothing of RTMP
// itself. ClientConn is the client side, a net.Conn for an RTMP client.
//
// Every buffer is bounded: a session holds at most Config.BufferBytes for
// its client (the RTMP connection's writes wait past it, as on a full
// socket, and time out if the client stops asking), a /send waits while
// the RTMP reader has as much still to read, a body is at most
// Config.MaxBody, and a session whose client makes no request for
// Config.IdleTimeout is closed.
package rtmpt
