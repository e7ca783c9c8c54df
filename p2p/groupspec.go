package p2p

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Groupspec limits and option types (reference §5.1).
const (
	// MaxGroupspecLen bounds the groupspec text the server parses: real
	// ones are a few hundred characters; authorisations make them longer.
	MaxGroupspecLen = 4096
	// groupspecVersion is the option type whose value 2 marks a version-2
	// groupspec, whose ID is hashed twice.
	groupspecVersion = 0x7f
	// groupspecName is the option type carrying the group's name.
	groupspecName = 0x0e
)

// Groupspec is a parsed NetGroup specifier, the text
// GroupSpecifier.toString() yields: "G:" then the lowercase hex of an
// option list whose 00 byte ends the group's identity; what follows it
// (authorisations) is not part of the identity.
type Groupspec struct {
	// Identity is the text the group ID is derived from: "G:" and the hex
	// digits up to, not including, the terminating "00".
	Identity string
	// Version is option 0x7f's value (0 when absent).
	Version uint64
	// Name is option 0x0e's value, the name given to GroupSpecifier.
	Name string
	// Options are the identity's options in order, as type and value.
	Options []GroupspecOption
	// ID is the group ID: SHA-256 of Identity, applied a second time to
	// the digest for version-2 groupspecs (librtmfp connect2Group).
	ID GroupID
}

// GroupspecOption is one option of a groupspec's identity.
type GroupspecOption struct {
	Type  uint64
	Value []byte
}

// ParseGroupspec parses a groupspec and derives its group ID. The text
// must start "G:", hold an even number of hex digits, and its option list
// must be well formed up to its 00 terminator.
func ParseGroupspec(spec string) (Groupspec, error) {
	if len(spec) > MaxGroupspecLen {
		return Groupspec{}, fmt.Errorf("%w: %d characters", ErrGroupspec, len(spec))
	}
	hexPart, ok := strings.CutPrefix(spec, "G:")
	if !ok {
		return Groupspec{}, fmt.Errorf("%w: no G: prefix", ErrGroupspec)
	}
	raw, err := hex.DecodeString(hexPart)
	if err != nil {
		return Groupspec{}, fmt.Errorf("%w: %w", ErrGroupspec, err)
	}
	var gs Groupspec
	off := 0
	for {
		if off >= len(raw) {
			return Groupspec{}, fmt.Errorf("%w: no 00 terminator", ErrGroupspec)
		}
		if raw[off] == 0 {
			break
		}
		n, ln, err := groupspecVLU(raw[off:])
		if err != nil || n == 0 || uint64(len(raw)-off-ln) < n {
			return Groupspec{}, fmt.Errorf("%w: truncated option at byte %d", ErrGroupspec, off)
		}
		body := raw[off+ln : off+ln+int(n)]
		typ, tl, err := groupspecVLU(body)
		if err != nil {
			return Groupspec{}, fmt.Errorf("%w: option type at byte %d", ErrGroupspec, off)
		}
		opt := GroupspecOption{Type: typ, Value: body[tl:]}
		switch typ {
		case groupspecVersion:
			v, vl, err := groupspecVLU(opt.Value)
			if err != nil || vl != len(opt.Value) {
				return Groupspec{}, fmt.Errorf("%w: version option", ErrGroupspec)
			}
			gs.Version = v
		case groupspecName:
			gs.Name = string(opt.Value)
		}
		gs.Options = append(gs.Options, opt)
		off += ln + int(n)
	}
	gs.Identity = spec[:len("G:")+2*off]
	gs.ID = sha256.Sum256([]byte(gs.Identity))
	if gs.Version == 2 {
		gs.ID = sha256.Sum256(gs.ID[:])
	}
	return gs, nil
}

// groupspecVLU reads an RFC 7016 §2.1.2 variable-length unsigned integer
// (at most 8 bytes, so the value fits 56 bits).
func groupspecVLU(b []byte) (v uint64, n int, err error) {
	for n < len(b) && n < 8 {
		c := b[n]
		v = v<<7 | uint64(c&0x7f)
		n++
		if c&0x80 == 0 {
			return v, n, nil
		}
	}
	return 0, 0, ErrGroupspec
}
