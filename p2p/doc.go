// Package p2p holds what a server does for RTMFP peer-to-peer
// applications, apart from any transport: peer and group IDs, groupspecs
// and the group-control messages (ids.go, groupspec.go, group_control.go),
// the membership and overlay of NetGroups, scoped per application instance
// (netgroups.go), and the rendezvous peer table that introduces one peer to
// another (rendezvous.go). The server's RTMFP glue feeds it flows and
// sessions; Flash clients then talk to each other directly.
package p2p
