package apps

import "errors"

// NetGroup sentinel errors. They live beside the NetGroup code rather than
// in errors.go so that the group model stays one self-contained unit.
var (
	// ErrGroupspec is returned for a malformed groupspec.
	ErrGroupspec = errors.New("apps: malformed groupspec")
	// ErrGroupJoin is returned for a malformed group join message.
	ErrGroupJoin = errors.New("apps: malformed group join")
	// ErrGroupFull refuses a join to a group at NetGroupsConfig.MaxMembers.
	ErrGroupFull = errors.New("apps: group is full")
	// ErrTooManyGroups refuses a join by a peer already in
	// NetGroupsConfig.MaxGroupsPerPeer groups.
	ErrTooManyGroups = errors.New("apps: peer is in too many groups")
)
