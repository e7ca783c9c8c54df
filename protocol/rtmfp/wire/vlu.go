package wire

// VLU is the RFC 7016 §2.1.2 variable length unsigned integer: 7 bits per
// byte, most significant group first, with the high bit set on every byte but
// the last. Values are limited to 64 bits here; the RFC allows more but no
// field this implementation reads needs it, and a bound keeps parsing total.

// MaxVLULen is the longest encoding of a 64-bit value.
const MaxVLULen = 10

// VLULen returns the number of bytes AppendVLU uses for v.
func VLULen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendVLU appends the VLU encoding of v to b.
func AppendVLU(b []byte, v uint64) []byte {
	n := VLULen(v)
	for i := n - 1; i > 0; i-- {
		b = append(b, byte(v>>(7*uint(i)))|0x80)
	}
	return append(b, byte(v)&0x7f)
}

// ParseVLU decodes a VLU from the start of b and returns it with the number
// of bytes consumed.
func ParseVLU(b []byte) (v uint64, n int, err error) {
	for i, c := range b {
		if i == MaxVLULen || (i == MaxVLULen-1 && v > (1<<57)-1) {
			return 0, 0, ErrVLUOverflow
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrShort
}

// parseLenBytes reads a VLU length followed by that many bytes, returning the
// bytes (aliasing b) and the total consumed.
func parseLenBytes(b []byte) ([]byte, int, error) {
	l, n, err := ParseVLU(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, ErrShort
	}
	end := n + int(l)
	return b[n:end], end, nil
}

// appendLenBytes appends a VLU length followed by p.
func appendLenBytes(b, p []byte) []byte {
	b = AppendVLU(b, uint64(len(p)))
	return append(b, p...)
}
