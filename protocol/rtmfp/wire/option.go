package wire

// Options and option lists (RFC 7016 §2.1.3-2.1.4). An option is a VLU
// length covering the type and value, a VLU type, and the value. A length of
// zero is a Marker, which terminates an option list.

// AppendOption appends an option of the given type and value to b.
func AppendOption(b []byte, typ uint64, value []byte) []byte {
	b = AppendVLU(b, uint64(VLULen(typ)+len(value)))
	b = AppendVLU(b, typ)
	return append(b, value...)
}

// AppendVLUOption appends an option whose value is the VLU v, the encoding
// used by Flash-profile group IDs and the return flow association.
func AppendVLUOption(b []byte, typ, v uint64) []byte {
	b = AppendVLU(b, uint64(VLULen(typ)+VLULen(v)))
	b = AppendVLU(b, typ)
	return AppendVLU(b, v)
}

// AppendMarker appends the zero-length option that ends an option list.
func AppendMarker(b []byte) []byte { return append(b, 0) }

// ParseOption decodes one option from the start of b. For a Marker it
// returns marker=true and n=1.
func ParseOption(b []byte) (typ uint64, value []byte, n int, marker bool, err error) {
	body, n, err := parseLenBytes(b)
	if err != nil {
		return 0, nil, 0, false, err
	}
	if len(body) == 0 {
		return 0, nil, n, true, nil
	}
	typ, tn, err := ParseVLU(body)
	if err != nil {
		return 0, nil, 0, false, err
	}
	return typ, body[tn:], n, false, nil
}

// OptionList iterates over an option list without allocating:
//
//	it := wire.OptionList(b)
//	for it.Next() { use(it.Type(), it.Value()) }
//	if it.Err() != nil { ... }
//
// Iteration stops at the end of b or at a Marker; Rest then returns what
// follows the Marker.
type OptionIter struct {
	b      []byte
	typ    uint64
	val    []byte
	err    error
	marker bool
}

// OptionList returns an iterator over the options in b.
func OptionList(b []byte) OptionIter { return OptionIter{b: b} }

// Next advances to the next option and reports whether there is one.
func (it *OptionIter) Next() bool {
	if it.err != nil || it.marker || len(it.b) == 0 {
		return false
	}
	typ, val, n, marker, err := ParseOption(it.b)
	if err != nil {
		it.err = err
		return false
	}
	it.b = it.b[n:]
	if marker {
		it.marker = true
		return false
	}
	it.typ, it.val = typ, val
	return true
}

// Type is the current option's type.
func (it *OptionIter) Type() uint64 { return it.typ }

// Value is the current option's value, aliasing the input.
func (it *OptionIter) Value() []byte { return it.val }

// Err reports a syntax error that stopped iteration.
func (it *OptionIter) Err() error { return it.err }

// Terminated reports whether iteration stopped at a Marker.
func (it *OptionIter) Terminated() bool { return it.marker }

// Rest returns the bytes after the last option consumed (after the Marker
// once Terminated).
func (it *OptionIter) Rest() []byte { return it.b }

// FindOption returns the value of the first option of type typ in the list b,
// stopping at a Marker.
func FindOption(b []byte, typ uint64) ([]byte, bool) {
	it := OptionList(b)
	for it.Next() {
		if it.Type() == typ {
			return it.Value(), true
		}
	}
	return nil, false
}
