package flashcrypto

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// Diffie-Hellman groups of the Flash profile (RFC 7425 §4.2 via rtmfp-cpp):
// MODP groups whose primes are defined in RFC 2409 §6.2 (group 2, mandatory)
// and RFC 3526 §2, §3, §5 (groups 5, 14, 16). All use generator 2. Public
// keys and shared secrets travel as minimal-length big-endian integers
// (big.Int.Bytes semantics), never left-padded: padding would change the
// derived keys for one secret in 256.

// GroupID is a Diffie-Hellman group number as carried in certificates and
// keying components (a VLU).
type GroupID uint8

// Supported groups.
const (
	Group2  GroupID = 2  // 1024-bit MODP
	Group5  GroupID = 5  // 1536-bit MODP
	Group14 GroupID = 14 // 2048-bit MODP
	Group16 GroupID = 16 // 4096-bit MODP
)

// AllGroups lists every supported group, strongest first: the order in
// which this package advertises and prefers them.
var AllGroups = []GroupID{Group16, Group14, Group5, Group2}

type group struct {
	p       *big.Int
	pMinus  *big.Int // p - 2^24: public keys above it are rejected
	expBits int      // private exponent size, twice the group's strength
}

var groups = map[GroupID]*group{
	Group2: newGroup(224,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"),
	Group5: newGroup(256,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"),
	Group14: newGroup(320,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"),
	Group16: newGroup(480,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"+
			"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"+
			"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"+
			"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"+
			"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"+
			"88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"+
			"DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"+
			"233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"+
			"93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF"),
}

func newGroup(expBits int, hex string) *group {
	p, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		panic("flashcrypto: bad prime")
	}
	return &group{p: p, pMinus: new(big.Int).Sub(p, big.NewInt(1<<24)), expBits: expBits}
}

// Supported reports whether g is a group this package can compute.
func (g GroupID) Supported() bool { return groups[g] != nil }

// KeyPair is an ephemeral Diffie-Hellman key pair.
type KeyPair struct {
	Group   GroupID
	Public  []byte // minimal-length big-endian
	private *big.Int
}

var two = big.NewInt(2)

// GenerateKey creates a key pair for group g reading randomness from r
// (crypto/rand.Reader if nil).
func GenerateKey(g GroupID, r io.Reader) (*KeyPair, error) {
	grp := groups[g]
	if grp == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedGroup, g)
	}
	if r == nil {
		r = rand.Reader
	}
	buf := make([]byte, grp.expBits/8)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("flashcrypto: reading randomness: %w", err)
		}
		buf[0] |= 0x80 // full-size exponent
		x := new(big.Int).SetBytes(buf)
		y := new(big.Int).Exp(two, x, grp.p)
		if validPublic(grp, y) {
			return &KeyPair{Group: g, Public: y.Bytes(), private: x}, nil
		}
	}
}

// SharedSecret computes the secret shared with the holder of peerPublic,
// after rejecting weak public keys as RFC 7425 §4.6.2 requires: values
// below 2^24 or above p-2^24, and values with fewer than 16 one bits or 16
// zero bits.
func (k *KeyPair) SharedSecret(peerPublic []byte) ([]byte, error) {
	grp := groups[k.Group]
	y := new(big.Int).SetBytes(peerPublic)
	if !validPublic(grp, y) {
		return nil, ErrWeakPublicKey
	}
	return new(big.Int).Exp(y, k.private, grp.p).Bytes(), nil
}

func validPublic(grp *group, y *big.Int) bool {
	if y.BitLen() <= 24 || y.Cmp(grp.pMinus) > 0 {
		return false
	}
	ones := 0
	for _, w := range y.Bits() {
		ones += bits.OnesCount(uint(w))
	}
	return ones >= 16 && y.BitLen()-ones >= 16
}
