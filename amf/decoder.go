package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults applied when Decoder.MaxDepth or Decoder.MaxElements is zero.
const (
	DefaultMaxDepth    = 64
	DefaultMaxElements = 1 << 20
)

// ExternalizableReader decodes the body of an AMF3 externalizable object
// (AMF3 §3.12, U29O-traits-ext). The body format is private to the class, so
// the reader consumes it with the Decoder's own methods, typically
// DecodeAMF3 and ReadBytes, and returns the value that stands for the
// object.
type ExternalizableReader = func(d *Decoder) (any, error)

// readWrappedValue reads the body of the Flex classes every Flash/Flex client
// can send over RTMP, flex.messaging.io.ArrayCollection and
// flex.messaging.io.ObjectProxy: a single AMF3 value, which is what they
// decode to.
func readWrappedValue(d *Decoder) (any, error) { return d.DecodeAMF3() }

// Decoder reads AMF0 and AMF3 values from a byte slice.
//
// A Decoder holds the reference tables of one message: call Reset with each
// new message. AMF3 tables persist across DecodeAMF3 calls and across AMF0
// avmplus switches (0x11) until Reset; see the package documentation for why.
// A Decoder is not safe for concurrent use. After an error the tables may be
// incomplete; Reset before decoding more.
type Decoder struct {
	// MaxDepth bounds nesting (0 means DefaultMaxDepth). A top-level value
	// is at depth 0 and the members of a container one deeper; a reference
	// counts as the full depth of the value it points to.
	MaxDepth int
	// MaxElements bounds the number of values decoded since Reset (0 means
	// DefaultMaxElements). Every value counts once (object keys do not,
	// vector items do) and a reference counts the whole referenced value
	// again, so the limit bounds the size of the result as a tree and
	// therefore the work of any consumer that walks it.
	MaxElements int

	buf []byte
	off int

	depth int // depth of the value being decoded
	reach int // deepest depth reached inside the current table entry
	elems int // values decoded since Reset, references expanded

	refs0   []entry    // AMF0 complex objects (AMF0 §2.9)
	strs3   []string   // AMF3 string table (AMF3 §2.2)
	objs3   []entry    // AMF3 object table
	traits3 []traits   // AMF3 traits table
	props   []Property // scratch stack for members of open objects

	ext map[string]ExternalizableReader
}

// entry is a reference-table slot. height and count describe the value as a
// tree so that referencing it is charged against MaxDepth and MaxElements as
// if it had been sent inline; done is false while the value is still being
// decoded, which is how cycles are detected.
type entry struct {
	v      any
	height int
	count  int
	done   bool
}

// traits is an AMF3 class description (AMF3 §3.12).
type traits struct {
	class   string
	names   []string
	dynamic bool
	ext     bool
}

// NewDecoder returns a Decoder with default limits. The zero Decoder is also
// ready to use; NewDecoder exists for symmetry and readability.
func NewDecoder() *Decoder { return &Decoder{} }

// Reset starts decoding b, clearing the AMF0 and AMF3 reference tables and
// the element count. Table capacity is kept up to a modest size, so a
// Decoder reused per message reaches a steady state without table
// allocations, while one huge message does not pin its tables for the life
// of a connection.
func (d *Decoder) Reset(b []byte) {
	d.buf = b
	d.off = 0
	d.depth, d.reach, d.elems = 0, 0, 0
	d.refs0 = resetTable(d.refs0)
	d.strs3 = resetTable(d.strs3)
	d.objs3 = resetTable(d.objs3)
	d.traits3 = resetTable(d.traits3)
	d.props = resetTable(d.props)
}

// retainedTableCap is the largest table capacity Reset keeps.
const retainedTableCap = 1024

func resetTable[T any](s []T) []T {
	if cap(s) > retainedTableCap {
		return nil
	}
	clear(s)
	return s[:0]
}

// Len returns the number of bytes not yet consumed.
func (d *Decoder) Len() int { return len(d.buf) - d.off }

// Offset returns the number of bytes consumed since Reset.
func (d *Decoder) Offset() int { return d.off }

// RegisterExternalizable sets the reader for an AMF3 externalizable class,
// replacing any previous or default one. A nil read unregisters the class,
// including the defaults (flex.messaging.io.ArrayCollection and
// flex.messaging.io.ObjectProxy, which decode to the value they wrap).
func (d *Decoder) RegisterExternalizable(class string, read ExternalizableReader) {
	if d.ext == nil {
		d.ext = make(map[string]ExternalizableReader)
	}
	d.ext[class] = read
}

func (d *Decoder) externalizable(class string) ExternalizableReader {
	if r, ok := d.ext[class]; ok {
		return r
	}
	switch class {
	case "flex.messaging.io.ArrayCollection", "flex.messaging.io.ObjectProxy":
		return readWrappedValue
	}
	return nil
}

// DecodeAMF0 decodes one AMF0 value. An avmplus-object-marker (0x11)
// switches to AMF3 for exactly the one value that follows it (AMF0 §3.1).
func (d *Decoder) DecodeAMF0() (any, error) {
	depth, props := d.depth, len(d.props)
	v, err := d.amf0Value()
	d.restore(depth, props, err)
	return v, err
}

// DecodeAMF3 decodes one AMF3 value.
func (d *Decoder) DecodeAMF3() (any, error) {
	depth, props := d.depth, len(d.props)
	v, err := d.amf3Value()
	d.restore(depth, props, err)
	return v, err
}

// ReadBytes consumes the next n bytes and returns them without copying: the
// slice aliases the input and is valid only as long as it is. It serves
// externalizable readers whose classes write raw IDataOutput data (integers,
// UTF strings) rather than AMF values.
func (d *Decoder) ReadBytes(n int) ([]byte, error) {
	if n < 0 {
		return nil, d.errAt(d.off, fmt.Errorf("%w: negative length %d", ErrInvalidValue, n))
	}
	return d.readN(uint64(n))
}

// restore undoes the per-call state an error may have left behind, so that
// an externalizable reader that handles an error can keep using d.
func (d *Decoder) restore(depth, props int, err error) {
	d.depth = depth
	if err != nil {
		clear(d.props[props:])
		d.props = d.props[:props]
	}
}

var decoderPool = sync.Pool{New: func() any { return new(Decoder) }}

// DecodeAMF0All decodes every AMF0 value in b, as in the body of an RTMP
// command (type 20) or data (type 18) message. On error it returns the values
// decoded before the failing one along with the error, so a caller can still
// see the command name of a malformed command.
func DecodeAMF0All(b []byte) ([]any, error) {
	d := decoderPool.Get().(*Decoder)
	defer func() {
		d.Reset(nil)
		decoderPool.Put(d)
	}()
	d.Reset(b)
	var out []any
	for d.Len() > 0 {
		v, err := d.DecodeAMF0()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ---- limits and reference tables ----

func (d *Decoder) maxDepth() int {
	if d.MaxDepth > 0 {
		return d.MaxDepth
	}
	return DefaultMaxDepth
}

func (d *Decoder) maxElements() int {
	if d.MaxElements > 0 {
		return d.MaxElements
	}
	return DefaultMaxElements
}

func (d *Decoder) errAt(off int, err error) error { return &DecodeError{Offset: off, Err: err} }

// value accounts for one value starting at off, at the current depth.
func (d *Decoder) value(off int) error {
	if d.depth > d.maxDepth() {
		return d.errAt(off, ErrDepth)
	}
	if d.elems >= d.maxElements() {
		return d.errAt(off, ErrTooManyElements)
	}
	d.elems++
	if d.depth > d.reach {
		d.reach = d.depth
	}
	return nil
}

// addElems accounts for n further values (vector items) found at off.
func (d *Decoder) addElems(off int, n uint32) error {
	if uint64(n) > uint64(d.maxElements()-d.elems) {
		return d.errAt(off, ErrTooManyElements)
	}
	d.elems += int(n)
	return nil
}

// span records where a table entry's value began, to measure its tree.
type span struct{ reach, elems, depth int }

// open starts measuring the value just accounted for by d.value.
func (d *Decoder) open() span {
	s := span{reach: d.reach, elems: d.elems - 1, depth: d.depth}
	d.reach = d.depth
	return s
}

// close finishes measuring and stores v in *e.
func (d *Decoder) close(s span, e *entry, v any) {
	*e = entry{v: v, height: d.reach - s.depth, count: d.elems - s.elems, done: true}
	d.reach = max(d.reach, s.reach)
}

// deref resolves table slot i for a reference found at off. The reference
// was already counted as one value; it is charged the rest of the referenced
// tree.
func (d *Decoder) deref(table []entry, i uint32, off int) (any, error) {
	if uint64(i) >= uint64(len(table)) {
		return nil, d.errAt(off, fmt.Errorf("%w: index %d, table has %d entries", ErrReference, i, len(table)))
	}
	e := &table[i]
	if !e.done {
		return nil, d.errAt(off, fmt.Errorf("%w: index %d refers to an object that is still being decoded", ErrReference, i))
	}
	if d.depth+e.height > d.maxDepth() {
		return nil, d.errAt(off, ErrDepth)
	}
	if e.count-1 > d.maxElements()-d.elems {
		return nil, d.errAt(off, ErrTooManyElements)
	}
	d.elems += e.count - 1
	d.reach = max(d.reach, d.depth+e.height)
	return e.v, nil
}

// popProps moves the scratch members above base into a new Object.
func (d *Decoder) popProps(base int) Object {
	o := make(Object, len(d.props)-base)
	copy(o, d.props[base:])
	clear(d.props[base:])
	d.props = d.props[:base]
	return o
}

// ---- primitive readers ----

func (d *Decoder) truncated() error { return d.errAt(len(d.buf), ErrTruncated) }

func (d *Decoder) readByte() (byte, error) {
	if d.off >= len(d.buf) {
		return 0, d.truncated()
	}
	b := d.buf[d.off]
	d.off++
	return b, nil
}

func (d *Decoder) peekByte() (byte, bool) {
	if d.off >= len(d.buf) {
		return 0, false
	}
	return d.buf[d.off], true
}

// readN returns the next n bytes, aliasing the input.
func (d *Decoder) readN(n uint64) ([]byte, error) {
	if n > uint64(len(d.buf)-d.off) {
		return nil, d.truncated()
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

func (d *Decoder) readU16() (uint16, error) {
	b, err := d.readN(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (d *Decoder) readU32() (uint32, error) {
	b, err := d.readN(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (d *Decoder) readDouble() (float64, error) {
	b, err := d.readN(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// readU29 reads an AMF3 variable-length 29-bit integer (AMF3 §1.3.1): up to
// three bytes carrying 7 bits each with a continuation flag, then a fourth
// byte carrying 8 bits.
func (d *Decoder) readU29() (uint32, error) {
	var v uint32
	for i := 0; i < 3; i++ {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		if b < 0x80 {
			return v<<7 | uint32(b), nil
		}
		v = v<<7 | uint32(b&0x7f)
	}
	b, err := d.readByte()
	if err != nil {
		return 0, err
	}
	return v<<8 | uint32(b), nil
}

// fits reports whether n items of at least size bytes each could still be in
// the input. Every count a peer declares is checked with it before anything
// is allocated from the count.
func (d *Decoder) fits(n uint32, size int) bool {
	return uint64(n)*uint64(size) <= uint64(d.Len())
}

// ---- dates ----

// maxTimeMs is the ECMAScript time value range (ECMA-262 §21.4.1.1), outside
// which a Date is invalid.
const maxTimeMs = 8.64e15

// msToTime converts an ActionScript Date time value. Invalid dates (NaN,
// infinities, out of range) become the zero time.Time, which the encoder
// writes back as NaN; fractional milliseconds are truncated as ECMAScript's
// TimeClip does.
func msToTime(ms float64) time.Time {
	if !(math.Abs(ms) <= maxTimeMs) {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// timeToMs is the inverse of msToTime; sub-millisecond precision is dropped.
func timeToMs(t time.Time) float64 {
	if t.IsZero() {
		return math.NaN()
	}
	return float64(t.UnixMilli())
}
