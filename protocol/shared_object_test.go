package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
)

// soCases are round-trip cases for both body types; they also seed the fuzz
// target.
var soCases = []struct {
	name string
	msg  SharedObjectMessage
}{
	{"use", SharedObjectMessage{Name: "users", Version: 0, Persistent: true, Events: []SOEvent{{Type: SOUse}}}},
	{"release", SharedObjectMessage{Name: "users", Version: 7, Events: []SOEvent{{Type: SORelease}}}},
	{"use reply", SharedObjectMessage{Name: "chat/room1", Version: 3, Persistent: true, Events: []SOEvent{
		{Type: SOUseSuccess}, {Type: SOClear},
		{Type: SOChange, Key: "alice", Value: amf.Object{{Key: "name", Value: "Alice"}, {Key: "age", Value: 30.0}}},
		{Type: SOChange, Key: "count", Value: 2.0},
	}}},
	{"request change", SharedObjectMessage{Name: "s", Version: 1, Events: []SOEvent{{Type: SORequestChange, Key: "k", Value: "v"}}}},
	{"success and remove", SharedObjectMessage{Name: "s", Version: 9, Events: []SOEvent{{Type: SOSuccess, Key: "k"}, {Type: SORemove, Key: "old"}}}},
	{"request remove", SharedObjectMessage{Name: "s", Events: []SOEvent{{Type: SORequestRemove, Key: "k"}}}},
	{"send message", SharedObjectMessage{Name: "s", Version: 2, Events: []SOEvent{{Type: SOSendMessage, Key: "onMsg", Args: []any{"hi", 1.0, nil, true}}}}},
	{"send no args", SharedObjectMessage{Name: "s", Events: []SOEvent{{Type: SOSendMessage, Key: "ping"}}}},
	{"status", SharedObjectMessage{Name: "s", Events: []SOEvent{{Type: SOStatus, Key: SOBadPersistence, Value: "error"}}}},
	{"empty name and key", SharedObjectMessage{Events: []SOEvent{{Type: SOChange, Key: "", Value: amf.Undefined{}}}}},
	{"no events", SharedObjectMessage{Name: "x", Version: 0xFFFFFFFF, Persistent: true}},
}

func TestSharedObjectRoundTrip(t *testing.T) {
	for _, typ := range []Type{TypeSharedObjectAMF0, TypeSharedObjectAMF3} {
		for _, tc := range soCases {
			t.Run(typ.String()+"/"+tc.name, func(t *testing.T) {
				b, err := AppendSharedObject([]byte("prefix"), typ, &tc.msg)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(b, []byte("prefix")) {
					t.Fatal("caller's bytes overwritten")
				}
				var got SharedObjectMessage
				if err := DecodeSharedObject(amf.NewDecoder(), typ, b[len("prefix"):], &got); err != nil {
					t.Fatalf("decode: %v", err)
				}
				want := tc.msg
				if len(want.Events) == 0 && len(got.Events) == 0 {
					want.Events = got.Events // nil and empty are the same list
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
				}
			})
		}
	}
}

// TestSharedObjectWireLayout checks the exact bytes of a type 19 message
// against the layout of Part C §3.3.
func TestSharedObjectWireLayout(t *testing.T) {
	m := SharedObjectMessage{Name: "so", Version: 5, Persistent: true, Events: []SOEvent{
		{Type: SOChange, Key: "a", Value: 1.0},
		{Type: SOSuccess, Key: "b"},
		{Type: SOClear},
	}}
	want := []byte{
		0, 2, 's', 'o', // name
		0, 0, 0, 5, // version
		0, 0, 0, 2, // persistent
		0, 0, 0, 0, // reserved
		4, 0, 0, 0, 12, 0, 1, 'a', 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, // change a = 1
		5, 0, 0, 0, 3, 0, 1, 'b', // success b
		8, 0, 0, 0, 0, // clear
	}
	got, err := AppendSharedObject(nil, TypeSharedObjectAMF0, &m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("type 19 body\n got % x\nwant % x", got, want)
	}
	got3, err := AppendSharedObject(nil, TypeSharedObjectAMF3, &SharedObjectMessage{Name: "so", Events: []SOEvent{{Type: SOChange, Key: "a", Value: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	want3 := []byte{0, 0, 2, 's', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 6, 0, 1, 'a', 6, 3, 'x'}
	if !bytes.Equal(got3, want3) {
		t.Errorf("type 16 body\n got % x\nwant % x", got3, want3)
	}
}

func TestSharedObjectDecodeErrors(t *testing.T) {
	valid, err := AppendSharedObject(nil, TypeSharedObjectAMF0, &soCases[2].msg)
	if err != nil {
		t.Fatal(err)
	}
	d := amf.NewDecoder()
	var m SharedObjectMessage
	// Every proper prefix that cuts into the header or an event fails;
	// prefixes ending on an event boundary are valid shorter messages.
	boundaries := map[int]bool{}
	for n, off := 0, 2+len("chat/room1")+soHeaderLen; off <= len(valid); n++ {
		boundaries[off] = true
		if off == len(valid) {
			break
		}
		off += 5 + int(uint32(valid[off+1])<<24|uint32(valid[off+2])<<16|uint32(valid[off+3])<<8|uint32(valid[off+4]))
	}
	for i := 0; i < len(valid); i++ {
		err := DecodeSharedObject(d, TypeSharedObjectAMF0, valid[:i], &m)
		if boundaries[i] {
			if err != nil {
				t.Errorf("prefix %d (event boundary): %v", i, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("prefix %d of %d decoded without error", i, len(valid))
		}
	}
	tests := []struct {
		name    string
		typ     Type
		body    []byte
		wantErr error
	}{
		{"empty type 16", TypeSharedObjectAMF3, nil, ErrSOTruncated},
		{"short header", TypeSharedObjectAMF0, []byte{0, 1, 'a', 0, 0, 0, 0}, ErrSOTruncated},
		{"name past end", TypeSharedObjectAMF0, []byte{0xff, 0xff, 'a'}, ErrSOTruncated},
		{"unknown event", TypeSharedObjectAMF0, append(header("a"), 12, 0, 0, 0, 0), ErrSOEvent},
		{"event zero", TypeSharedObjectAMF0, append(header("a"), 0, 0, 0, 0, 0), ErrSOEvent},
		{"event length past end", TypeSharedObjectAMF0, append(header("a"), 4, 0xff, 0xff, 0xff, 0xff, 0), ErrSOTruncated},
		{"change key past data", TypeSharedObjectAMF0, append(header("a"), 4, 0, 0, 0, 2, 0, 9), ErrSOTruncated},
		{"change without value", TypeSharedObjectAMF0, append(header("a"), 4, 0, 0, 0, 3, 0, 1, 'k'), amf.ErrTruncated},
		{"status without level", TypeSharedObjectAMF0, append(header("a"), 7, 0, 0, 0, 3, 0, 1, 'c'), ErrSOTruncated},
		{"send handler not a string", TypeSharedObjectAMF0, append(header("a"), 6, 0, 0, 0, 1, 5), ErrSOEvent},
		{"bad value marker", TypeSharedObjectAMF0, append(header("a"), 3, 0, 0, 0, 4, 0, 1, 'k', 0x0e), amf.ErrUnknownMarker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := DecodeSharedObject(d, tc.typ, tc.body, &m)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func header(name string) []byte {
	b, _ := appendSOString(nil, name)
	return append(b, make([]byte, soHeaderLen)...)
}

func TestSharedObjectEncodeErrors(t *testing.T) {
	long := string(make([]byte, 70000))
	tests := []struct {
		name    string
		msg     SharedObjectMessage
		wantErr error
	}{
		{"long name", SharedObjectMessage{Name: long}, ErrSOTooLarge},
		{"long key", SharedObjectMessage{Events: []SOEvent{{Type: SOChange, Key: long}}}, ErrSOTooLarge},
		{"unknown event", SharedObjectMessage{Events: []SOEvent{{Type: 42}}}, ErrSOEvent},
		{"unencodable value", SharedObjectMessage{Events: []SOEvent{{Type: SOChange, Key: "k", Value: make(chan int)}}}, amf.ErrUnsupportedType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendSharedObject([]byte{1, 2}, TypeSharedObjectAMF0, &tc.msg)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !bytes.Equal(b, []byte{1, 2}) {
				t.Errorf("failed append left % x, want the input", b)
			}
		})
	}
}

func TestSOEventTypeString(t *testing.T) {
	for typ := SOUse; typ <= SOUseSuccess; typ++ {
		if s := typ.String(); s == "" || s[0] == 'S' && s[1] == 'O' {
			t.Errorf("%d has no name: %q", typ, s)
		}
	}
	if s := SOEventType(99).String(); s != "SOEvent(99)" {
		t.Errorf("unknown type String() = %q", s)
	}
}

// TestSharedObjectEncodeAllocs: encoding scalar changes into a reused buffer
// does not allocate.
func TestSharedObjectEncodeAllocs(t *testing.T) {
	m := SharedObjectMessage{Name: "users", Version: 4, Events: []SOEvent{
		{Type: SOChange, Key: "alice", Value: "online"}, {Type: SOSuccess, Key: "bob"}, {Type: SOClear},
	}}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendSharedObject(buf[:0], TypeSharedObjectAMF0, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendSharedObject: %v allocations per run, want 0", allocs)
	}
}

func BenchmarkAppendSharedObject(b *testing.B) {
	m := soCases[2].msg
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendSharedObject(buf[:0], TypeSharedObjectAMF0, &m)
	}
}

func BenchmarkDecodeSharedObject(b *testing.B) {
	body, err := AppendSharedObject(nil, TypeSharedObjectAMF0, &SharedObjectMessage{Name: "users", Version: 4,
		Events: []SOEvent{{Type: SORequestChange, Key: "alice", Value: 1.0}}})
	if err != nil {
		b.Fatal(err)
	}
	d := amf.NewDecoder()
	var m SharedObjectMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := DecodeSharedObject(d, TypeSharedObjectAMF0, body, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeSharedObject: any input decodes or fails without panicking, and
// whatever decodes re-encodes to something that decodes to the same message.
func FuzzDecodeSharedObject(f *testing.F) {
	for _, tc := range soCases {
		for _, typ := range []Type{TypeSharedObjectAMF0, TypeSharedObjectAMF3} {
			b, err := AppendSharedObject(nil, typ, &tc.msg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(typ == TypeSharedObjectAMF3, b)
		}
	}
	d := amf.NewDecoder()
	f.Fuzz(func(t *testing.T, amf3 bool, body []byte) {
		typ := TypeSharedObjectAMF0
		if amf3 {
			typ = TypeSharedObjectAMF3
		}
		var m SharedObjectMessage
		if err := DecodeSharedObject(d, typ, body, &m); err != nil {
			return
		}
		again, err := AppendSharedObject(nil, typ, &m)
		if err != nil {
			// Values such as AMF0 Unsupported or references that decode
			// fine may still refuse to encode in the other direction.
			return
		}
		var m2 SharedObjectMessage
		if err := DecodeSharedObject(d, typ, again, &m2); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if m2.Name != m.Name || m2.Version != m.Version || m2.Persistent != m.Persistent || len(m2.Events) != len(m.Events) {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, m2)
		}
	})
}
