package p2p

import (
	"crypto/sha256"
	"encoding/hex"
)

// GroupID identifies a NetGroup: the SHA-256 form of its groupspec.
type GroupID [32]byte

// String is the group ID in lowercase hex.
func (g GroupID) String() string { return hex.EncodeToString(g[:]) }

// PeerID is an RTMFP peer ID: SHA-256 of the peer's certificate.
type PeerID [32]byte

// String is the peer ID in lowercase hex, as NetConnection.nearID shows it.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// GroupAddress is a peer's position on a group's ring: SHA-256(0x21 0x0f
// || peer ID), the canonical peer EPD hashed (RFC 7425 §4.4.4).
func GroupAddress(p PeerID) [32]byte {
	var epd [34]byte
	epd[0], epd[1] = 0x21, 0x0f
	copy(epd[2:], p[:])
	return sha256.Sum256(epd[:])
}
