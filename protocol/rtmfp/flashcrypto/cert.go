package flashcrypto

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Certificate option types (RFC 7425 §4.3 via rtmfp-cpp).
const (
	CertHostname          = 0x00 // UTF-8 host name
	CertAcceptsAncillary  = 0x0a // "you may put a URL in the EPD"
	CertExtraRandomness   = 0x0e // makes each ephemeral certificate unique
	CertSupportedDHGroup  = 0x15 // ephemeral Diffie-Hellman group
	CertStaticDHPublicKey = 0x1d // static Diffie-Hellman public key
)

// Certificate is a parsed Flash-profile certificate: an option list whose
// canonical part (the options before the first Marker) identifies the peer.
type Certificate struct {
	Raw []byte
	// Fingerprint is SHA-256 of the canonical part: the peer ID that
	// NetConnection.farID shows and that fingerprint EPDs name.
	Fingerprint      [32]byte
	Static           bool // carries static DH keys (0x1d) rather than groups (0x15)
	AcceptsAncillary bool
	Hostname         []byte
	// Groups lists the groups the certificate offers, in its order.
	Groups []GroupID
	keys   map[GroupID][]byte // static keys by group
}

// ParseCertificate parses and fingerprints a certificate. Like rtmfp-cpp it
// rejects certificates that offer both or neither of static keys and
// ephemeral groups. The result references a copy of b.
func ParseCertificate(b []byte) (*Certificate, error) {
	c := &Certificate{Raw: append([]byte(nil), b...)}
	canonical := len(c.Raw)
	ephemeral := false
	it := wire.OptionList(c.Raw)
	for it.Next() {
		v := it.Value()
		switch it.Type() {
		case CertHostname:
			c.Hostname = v
		case CertAcceptsAncillary:
			c.AcceptsAncillary = true
		case CertSupportedDHGroup:
			ephemeral = true
			if g, _, err := wire.ParseVLU(v); err == nil && g < 256 {
				c.Groups = append(c.Groups, GroupID(g))
			}
		case CertStaticDHPublicKey:
			c.Static = true
			g, n, err := wire.ParseVLU(v)
			if err != nil || g >= 256 {
				return nil, fmt.Errorf("%w: static key option", ErrCertificate)
			}
			if c.keys == nil {
				c.keys = make(map[GroupID][]byte, 3)
			}
			if _, dup := c.keys[GroupID(g)]; !dup {
				c.keys[GroupID(g)] = v[n:]
				c.Groups = append(c.Groups, GroupID(g))
			}
		}
	}
	if it.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertificate, it.Err())
	}
	if it.Terminated() {
		canonical = len(c.Raw) - len(it.Rest())
		// The Marker itself belongs to the non-canonical tail.
		canonical--
	}
	if c.Static == ephemeral {
		return nil, fmt.Errorf("%w: must be exactly one of static or ephemeral", ErrCertificate)
	}
	c.Fingerprint = sha256.Sum256(c.Raw[:canonical])
	return c, nil
}

// StaticKey returns the certificate's static public key for g.
func (c *Certificate) StaticKey(g GroupID) ([]byte, bool) {
	k, ok := c.keys[g]
	return k, ok
}

// Offers reports whether the certificate offers group g.
func (c *Certificate) Offers(g GroupID) bool {
	for _, x := range c.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Identity is this end's ephemeral-style certificate and fingerprint.
type Identity struct {
	Cert        []byte
	Fingerprint [32]byte
	Groups      []GroupID
}

// NewIdentity builds an ephemeral-style certificate offering groups (in
// preference order). A responder sets acceptsAncillary so that URL EPDs
// select it (rtmfp-cpp ignores an RHello without it). The 64 random bytes
// make every certificate, and so every peer ID, unique. With three or more
// groups the certificate is at least 77 bytes, the size librtmfp reads.
func NewIdentity(groups []GroupID, acceptsAncillary bool, hostname string, r io.Reader) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	var b []byte
	if hostname != "" {
		b = wire.AppendOption(b, CertHostname, []byte(hostname))
	}
	if acceptsAncillary {
		b = wire.AppendOption(b, CertAcceptsAncillary, nil)
	}
	var rnd [64]byte
	if _, err := io.ReadFull(r, rnd[:]); err != nil {
		return nil, fmt.Errorf("flashcrypto: reading randomness: %w", err)
	}
	b = wire.AppendOption(b, CertExtraRandomness, rnd[:])
	for _, g := range groups {
		if !g.Supported() {
			return nil, fmt.Errorf("%w: %d", ErrUnsupportedGroup, g)
		}
		b = wire.AppendVLUOption(b, CertSupportedDHGroup, uint64(g))
	}
	return &Identity{Cert: b, Fingerprint: sha256.Sum256(b), Groups: append([]GroupID(nil), groups...)}, nil
}
