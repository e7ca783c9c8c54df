package amf

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"
)

// Encoder writes AMF0 and AMF3 values by appending to a caller's buffer.
//
// It holds the AMF3 reference tables of one message: strings, objects and
// traits repeated within the message are written as references (AMF3 §2.2).
// The tables persist across AppendAMF3 calls and across AMF0 avmplus
// switches until Reset, matching the decoder (see the package
// documentation), so call Reset between messages. Objects are recognised by
// identity: the same backing array and length for slice types (Object,
// StrictArray, ByteArray, ...), the same pointer for *TypedObject and
// *MixedArray. An object mutated after it was written and written again
// before Reset is therefore sent as a reference to its earlier state, as in
// Flash Player, and the tables keep the values written reachable until
// Reset.
//
// The AMF0 encoder writes no AMF0 references (0x07): values shared within a
// graph are written in full each time, which every AMF0 reader accepts, and
// cyclic graphs fail with ErrDepth.
//
// The zero Encoder is ready to use. An Encoder is not safe for concurrent use.
type Encoder struct {
	// MaxDepth bounds nesting as Decoder.MaxDepth does (0 means
	// DefaultMaxDepth), so the encoder never writes what the default
	// decoder refuses, and a cyclic Go value is an error, not a hang.
	MaxDepth int

	depth   int
	strs    map[string]uint32
	objs    map[objKey]uint32
	nobjs   uint32
	traits3 []encTraits
}

// objKey identifies an object by the address and length of its backing
// store. kind keeps apart values of different AMF types that share a store
// and carries per-type flags that are part of the value.
type objKey struct {
	p    unsafe.Pointer
	n    int
	kind uint16
}

// encTraits is a traits-table entry: the class, whether it is dynamic, and
// the sealed member names, which are the keys of names.
type encTraits struct {
	class   string
	dynamic bool
	names   []Property
}

// Reset clears the AMF3 reference tables. Their capacity is kept up to a
// modest size, so that encoding reaches a steady state without allocations
// but one huge message does not pin its tables.
func (e *Encoder) Reset() {
	e.depth = 0
	if len(e.strs) > retainedTableCap {
		e.strs = nil
	}
	clear(e.strs)
	if len(e.objs) > retainedTableCap {
		e.objs = nil
	}
	clear(e.objs)
	e.nobjs = 0
	e.traits3 = resetTable(e.traits3)
}

// tableMark records the sizes of the AMF3 tables before a public call.
type tableMark struct {
	strs, objs uint32
	traits     int
}

func (e *Encoder) mark() tableMark {
	return tableMark{strs: uint32(len(e.strs)), objs: e.nobjs, traits: len(e.traits3)}
}

// rollback forgets the table entries added since m. A failed call returns b
// unchanged, so the peer never sees the values those entries stand for and
// later references to them would point at the wrong entries. Errors are rare,
// so the scans over the maps cost nothing in practice.
func (e *Encoder) rollback(m tableMark) {
	for k, i := range e.strs {
		if i >= m.strs {
			delete(e.strs, k)
		}
	}
	for k, i := range e.objs {
		if i >= m.objs {
			delete(e.objs, k)
		}
	}
	e.nobjs = m.objs
	clear(e.traits3[m.traits:])
	e.traits3 = e.traits3[:m.traits]
}

func (e *Encoder) maxDepth() int {
	if e.MaxDepth > 0 {
		return e.MaxDepth
	}
	return DefaultMaxDepth
}

var encoderPool = sync.Pool{New: func() any { return new(Encoder) }}

func getEncoder() *Encoder { return encoderPool.Get().(*Encoder) }

func putEncoder(e *Encoder) {
	e.Reset()
	encoderPool.Put(e)
}

// AppendAMF0 appends the AMF0 encoding of v to b using a pooled Encoder with
// empty tables.
func AppendAMF0(b []byte, v any) ([]byte, error) {
	e := getEncoder()
	b, err := e.AppendAMF0(b, v)
	putEncoder(e)
	return b, err
}

// AppendAMF3 appends the AMF3 encoding of v to b using a pooled Encoder with
// empty tables.
func AppendAMF3(b []byte, v any) ([]byte, error) {
	e := getEncoder()
	b, err := e.AppendAMF3(b, v)
	putEncoder(e)
	return b, err
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func appendDouble(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// sliceKey builds the identity of a slice-backed value. Empty values get no
// identity: every empty slice may share one address.
func sliceKey[T any](s []T, kind uint16) objKey {
	if len(s) == 0 {
		return objKey{}
	}
	return objKey{p: unsafe.Pointer(unsafe.SliceData(s)), n: len(s), kind: kind}
}

func ptrKey[T any](p *T, kind uint16) objKey {
	return objKey{p: unsafe.Pointer(p), kind: kind}
}
