// Package tc carries Flash NetConnection/NetStream traffic ("TC", Tin-Can)
// over RTMFP flows, as RFC 7425 §5 describes and Flash Player, AIR,
// rtmfp-cpp and MonaServer do it: flow metadata that names the NetStream a
// flow belongs to, RTMP-style messages framed one per flow message (type,
// timestamp, payload; no chunking), and a NetConnection client.
//
// Flows (RFC 7425 §5.1): the client opens its NetConnection flow (stream
// 0); the server answers on a flow returning to it; the client's NetStream
// flows (stream N from createStream) return to the server's NetConnection
// flow, and the server's NetStream flows return to the client's. A sender
// uses separate flows for a stream's commands and data, its audio and its
// video, so that late video can be abandoned (RFC 7016 partial
// reliability) without holding up audio or commands.
//
// Peer to peer (p2p.go, netgroup.go): P2P plays streams other peers
// publish with NetStream.DIRECT_CONNECTIONS over direct sessions the
// server introduces, and serves this client's own direct streams;
// Client.JoinGroup runs the NetGroup bootstrap flow with the server.
package tc
