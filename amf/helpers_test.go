package amf

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// wire builds expected bytes from readable segments: hex digits (spaces
// ignored) or, when a segment starts with a quote, the text after it.
func wire(t testing.TB, segs ...string) []byte {
	t.Helper()
	var b []byte
	for _, s := range segs {
		if strings.HasPrefix(s, `"`) {
			b = append(b, s[1:]...)
			continue
		}
		h, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatalf("bad hex %q: %v", s, err)
		}
		b = append(b, h...)
	}
	return b
}

// equal compares decoded values. Floats compare by bits (so NaN equals NaN
// and -0 differs from 0), times by instant, and nil and empty slices alike.
// With traits false, typed objects compare by class and properties only, as
// AMF0 has no traits.
func equal(a, b any, traits bool) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y))
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && x.IsZero() == y.IsZero()
	case Object:
		y, ok := b.(Object)
		return ok && equalProps(x, y, traits)
	case ECMAArray:
		y, ok := b.(ECMAArray)
		return ok && equalProps(Object(x), Object(y), traits)
	case StrictArray:
		y, ok := b.(StrictArray)
		return ok && equalList(x, y, traits)
	case *TypedObject:
		y, ok := b.(*TypedObject)
		if !ok || x.Class != y.Class || !equalProps(x.Props, y.Props, traits) {
			return false
		}
		return !traits || x.Dynamic == y.Dynamic && x.Sealed == y.Sealed
	case *MixedArray:
		y, ok := b.(*MixedArray)
		return ok && equalList(x.Dense, y.Dense, traits) && equalProps(x.Assoc, y.Assoc, traits)
	case ByteArray:
		y, ok := b.(ByteArray)
		return ok && bytes.Equal(x, y)
	case VectorInt:
		y, ok := b.(VectorInt)
		return ok && x.Fixed == y.Fixed && equalSlice(x.Items, y.Items)
	case VectorUint:
		y, ok := b.(VectorUint)
		return ok && x.Fixed == y.Fixed && equalSlice(x.Items, y.Items)
	case VectorDouble:
		y, ok := b.(VectorDouble)
		if !ok || x.Fixed != y.Fixed || len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if !equal(x.Items[i], y.Items[i], traits) {
				return false
			}
		}
		return true
	case VectorObject:
		y, ok := b.(VectorObject)
		return ok && x.Fixed == y.Fixed && x.TypeName == y.TypeName && equalList(x.Items, y.Items, traits)
	case Dictionary:
		y, ok := b.(Dictionary)
		if !ok || x.WeakKeys != y.WeakKeys || len(x.Entries) != len(y.Entries) {
			return false
		}
		for i := range x.Entries {
			if !equal(x.Entries[i].Key, y.Entries[i].Key, traits) || !equal(x.Entries[i].Value, y.Entries[i].Value, traits) {
				return false
			}
		}
		return true
	}
	return a == b
}

func equalProps(x, y Object, traits bool) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Key != y[i].Key || !equal(x[i].Value, y[i].Value, traits) {
			return false
		}
	}
	return true
}

func equalList(x, y []any, traits bool) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i], traits) {
			return false
		}
	}
	return true
}

func equalSlice[T comparable](x, y []T) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// hexDiff describes where got and want first differ, showing a window of
// bytes around it so that long encodings stay readable.
func hexDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-8, 0)
	window := func(b []byte) []byte { return b[min(lo, len(b)):min(i+24, len(b))] }
	return fmt.Sprintf("lengths %d and %d, first difference at %d:\n got  [%d:] % x\n want [%d:] % x",
		len(got), len(want), i, lo, window(got), lo, window(want))
}
