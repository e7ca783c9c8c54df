package p2p

import "errors"

// NetGroup sentinel errors.
var (
	// ErrGroupspec is returned for a malformed groupspec.
	ErrGroupspec = errors.New("p2p: malformed groupspec")
	// ErrGroupJoin is returned for a malformed group join message.
	ErrGroupJoin = errors.New("p2p: malformed group join")
	// ErrGroupFull refuses a join to a group at NetGroupsConfig.MaxMembers.
	ErrGroupFull = errors.New("p2p: group is full")
	// ErrTooManyGroups refuses a join by a peer already in
	// NetGroupsConfig.MaxGroupsPerPeer groups.
	ErrTooManyGroups = errors.New("p2p: peer is in too many groups")
)
