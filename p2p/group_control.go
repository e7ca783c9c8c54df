package p2p

import (
	"crypto/sha256"
	"fmt"
)

// Group-control messages (reference §5.3, §5.4).
const (
	// GroupJoin is the type of the join message a member sends on its
	// group-control ("GC") flow.
	GroupJoin = 0x01
	// GroupMember is the type of the server's message naming a neighbour.
	GroupMember = 0x0b
	// joinRawTag marks a join carrying raw group bytes the server hashes
	// once (older Flash); any other tag carries the 32-byte ID itself
	// (librtmfp writes 0x15).
	joinRawTag = 0x10
	// maxJoinRaw bounds the raw form (a groupspec's identity in bytes).
	maxJoinRaw = MaxGroupspecLen
)

// ParseGroupJoin decodes a join message: 01, a VLU length, then either
// 0x10 and raw bytes whose SHA-256 is the group ID, or another tag and the
// 32-byte group ID.
func ParseGroupJoin(msg []byte) (GroupID, error) {
	if len(msg) < 2 || msg[0] != GroupJoin {
		return GroupID{}, fmt.Errorf("%w: not a join (% x)", ErrGroupJoin, msg[:min(len(msg), 2)])
	}
	n, ln, err := groupspecVLU(msg[1:])
	if err != nil || n == 0 || n != uint64(len(msg)-1-ln) {
		return GroupID{}, fmt.Errorf("%w: length", ErrGroupJoin)
	}
	body := msg[1+ln:]
	if body[0] == joinRawTag {
		if len(body) == 1 || len(body) > 1+maxJoinRaw {
			return GroupID{}, fmt.Errorf("%w: %d raw bytes", ErrGroupJoin, len(body)-1)
		}
		return GroupID(sha256.Sum256(body[1:])), nil
	}
	if len(body) != 1+32 {
		return GroupID{}, fmt.Errorf("%w: group ID of %d bytes", ErrGroupJoin, len(body)-1)
	}
	return GroupID(body[1:]), nil
}

// AppendGroupJoin appends the join message for a group ID in the form
// librtmfp sends: 01 21 15 <ID>.
func AppendGroupJoin(b []byte, id GroupID) []byte {
	b = append(b, GroupJoin, 0x21, 0x15)
	return append(b, id[:]...)
}

// AppendGroupMember appends the message naming a neighbour: 0b <peer ID>.
func AppendGroupMember(b []byte, p PeerID) []byte {
	b = append(b, GroupMember)
	return append(b, p[:]...)
}
