package tc

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
)

func TestMetadata(t *testing.T) {
	for _, tc := range []struct {
		m    Metadata
		wire []byte
	}{
		{Metadata{StreamID: 0}, []byte{'T', 'C', 0x04, 0x00}},
		{Metadata{StreamID: 1}, []byte{'T', 'C', 0x04, 0x01}},
		{Metadata{StreamID: 2000000}, []byte{'T', 'C', 0x04, 0xfa, 0x89, 0x00}},
		{Metadata{StreamID: 3, Unordered: true}, []byte{'T', 'C', 0x05, 0x03}},
	} {
		if got := AppendMetadata(nil, tc.m); !bytes.Equal(got, tc.wire) {
			t.Errorf("AppendMetadata(%+v) = % x, want % x", tc.m, got, tc.wire)
		}
		kind, m, err := ParseMetadata(tc.wire)
		if err != nil || kind != KindTC || m != tc.m {
			t.Errorf("ParseMetadata(% x) = %v %+v %v", tc.wire, kind, m, err)
		}
	}
	if kind, _, err := ParseMetadata([]byte("GC")); kind != KindGroupControl || err != nil {
		t.Errorf("GC: %v %v", kind, err)
	}
	if kind, _, _ := ParseMetadata([]byte("GR\x11")); kind != KindOther {
		t.Errorf("GR: %v", kind)
	}
	for _, bad := range [][]byte{{'T', 'C'}, {'T', 'C', 0x00, 0x01}, {'T', 'C', 0x04, 0x80}} {
		if _, _, err := ParseMetadata(bad); !errors.Is(err, ErrMetadata) {
			t.Errorf("ParseMetadata(% x) = %v, want ErrMetadata", bad, err)
		}
	}
}

func TestMessage(t *testing.T) {
	m := protocol.Message{Type: protocol.TypeVideo, Timestamp: 0x01020304, StreamID: 3, Payload: []byte{0x17, 1}}
	b := AppendMessage(nil, m)
	if !bytes.Equal(b, []byte{9, 1, 2, 3, 4, 0x17, 1}) {
		t.Fatalf("AppendMessage = % x", b)
	}
	got, err := ParseMessage(b, 3)
	if err != nil || got.Type != m.Type || got.Timestamp != m.Timestamp || got.StreamID != 3 || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("ParseMessage = %+v, %v", got, err)
	}
	if _, err := ParseMessage([]byte{9, 0, 0, 0}, 1); !errors.Is(err, ErrShortMessage) {
		t.Fatalf("short: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{'T', 'C', 0x04, 0xfa, 0x89, 0x00})
	f.Add([]byte{9, 1, 2, 3, 4, 0x17})
	f.Fuzz(func(t *testing.T, b []byte) {
		if kind, m, err := ParseMetadata(b); err == nil && kind == KindTC {
			if _, m2, err := ParseMetadata(AppendMetadata(nil, m)); err != nil || m2 != m {
				t.Fatalf("metadata round trip: %+v -> %+v %v", m, m2, err)
			}
		}
		if m, err := ParseMessage(b, 1); err == nil && !bytes.Equal(AppendMessage(nil, m), b) {
			t.Fatal("message round trip")
		}
	})
}

func TestFlowSync(t *testing.T) {
	var s flowSync
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 20 * time.Millisecond)
			s.arrive(context.Background(), 7, 3)
			order <- i
		}()
	}
	wg.Wait()
	close(order)
	n := 0
	for range order {
		n++
	}
	if n != 3 || len(s.points) != 0 {
		t.Fatalf("%d flows passed the sync point, %d points left", n, len(s.points))
	}
	// A partner that never comes does not stall a flow forever.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.arrive(ctx, 8, 2)
	if time.Since(start) > time.Second {
		t.Fatal("sync point without partners blocked")
	}
}
