package rtmfp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
	"unsafe"
)

// Test 5: an orderly close ends both sessions and frees every goroutine.
func TestCloseFreesGoroutines(t *testing.T) {
	leakCheck(t)
	_, _, ss, cs := pair(t, testConfig(), testConfig())
	f, err := cs.OpenFlow([]byte("x"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]byte("hello"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ss.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server session did not end after the peer closed")
	}
	if !errors.Is(ss.Err(), ErrPeerClosed) || !errors.Is(cs.Err(), ErrClosed) {
		t.Fatalf("errors: server %v, client %v", ss.Err(), cs.Err())
	}
	// What arrived before the peer's Close is still read (a refused
	// connect's status comes just before the server closes), then the
	// flow reports the close.
	if m, err := rf.ReadMessage(ctx); err != nil || string(m.Data) != "hello" {
		t.Fatalf("read of the message sent before the close: %q, %v", m.Data, err)
	}
	if _, err := rf.ReadMessage(ctx); err == nil || err == io.EOF {
		t.Fatalf("read on a closed session: %v", err)
	}
	if err := f.Write([]byte("late"), WriteOptions{}); err == nil {
		t.Fatal("write on a closed session succeeded")
	}
}

// Return association, unordered delivery, rejection and flow control on one
// session.
func TestFlowFeatures(t *testing.T) {
	leakCheck(t)
	scfg := testConfig()
	scfg.RecvBuffer = 16 << 10
	_, _, ss, cs := pair(t, scfg, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Client opens a control flow; server answers on a return flow.
	ctl, err := cs.OpenFlow([]byte("TC\x04\x00"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Write([]byte("connect"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	sctl, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sctl.Association() != nil {
		t.Fatal("first flow has an association")
	}
	ret, err := ss.OpenFlow([]byte("TC\x04\x00"), FlowOptions{ReturnFor: sctl})
	if err != nil {
		t.Fatal(err)
	}
	if err := ret.Write([]byte("_result"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cret, err := cs.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cret.Association() != ctl {
		t.Fatal("return flow not associated with the client's control flow")
	}
	if m, err := cret.ReadMessage(ctx); err != nil || string(m.Data) != "_result" {
		t.Fatalf("return flow read %q %v", m.Data, err)
	}

	// A rejected flow fails the sender with the exception code.
	bad, _ := cs.OpenFlow([]byte("unknown stream"), FlowOptions{})
	bad.Write([]byte("x"), WriteOptions{})
	sbad, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sbad.Reject(42)
	select {
	case <-bad.Done():
	case <-ctx.Done():
		t.Fatal("rejected flow not finished")
	}
	var fe *FlowError
	if err := bad.Err(); !errors.As(err, &fe) || fe.Code != 42 || !errors.Is(err, ErrFlowRejected) {
		t.Fatalf("rejected flow error %v", bad.Err())
	}

	// Flow control: 200 KB through a 16 KB receive window with a slow
	// reader; unordered delivery still yields every message once.
	data, _ := cs.OpenFlow([]byte("bulk"), FlowOptions{})
	go func() {
		msg := make([]byte, 2000)
		for i := 0; i < 100; i++ {
			msg[0] = byte(i)
			if err := data.WriteContext(ctx, msg, WriteOptions{}); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
		data.Close()
	}()
	sdata, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sdata.SetUnordered(true)
	seen := make(map[byte]bool)
	for {
		m, err := sdata.ReadMessage(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(m.Data) != 2000 || seen[m.Data[0]] {
			t.Fatalf("bad or duplicate message %d (%d bytes)", m.Data[0], len(m.Data))
		}
		seen[m.Data[0]] = true
		time.Sleep(time.Millisecond)
	}
	if len(seen) != 100 {
		t.Fatalf("%d of 100 messages", len(seen))
	}
	select {
	case <-data.Done():
	case <-ctx.Done():
		t.Fatal("closed flow never completed")
	}
	if data.Err() != nil {
		t.Fatalf("completed flow error %v", data.Err())
	}
}

func TestWriteLimits(t *testing.T) {
	leakCheck(t)
	ccfg := testConfig()
	ccfg.SendBuffer = 10000
	_, _, _, cs := pair(t, testConfig(), ccfg)
	f, _ := cs.OpenFlow([]byte("x"), FlowOptions{})
	if err := f.Write(make([]byte, 10001), WriteOptions{}); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	if err := f.Write(make([]byte, 8000), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(make([]byte, 8000), WriteOptions{}); !errors.Is(err, ErrWouldBlock) && err != nil {
		t.Fatalf("second write: %v", err)
	}
	if _, err := cs.OpenFlow(make([]byte, MaxMetadata+1), FlowOptions{}); !errors.Is(err, ErrMetadataTooLarge) {
		t.Fatalf("metadata limit: %v", err)
	}
}

// Time-critical data from one peer makes the server flag its packets to
// other peers with the Time Critical Reverse Notification, and those peers
// record it (their congestion control then yields, RFC 7016 §3.5.2.1).
func TestTimeCriticalReverseNotification(t *testing.T) {
	leakCheck(t)
	server, _, _, cs1 := pair(t, testConfig(), testConfig())
	c2 := listen(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go server.Accept(ctx)
	cs2, err := c2.Dial(ctx, urlOf(server))
	if err != nil {
		t.Fatal(err)
	}
	media, _ := cs1.OpenFlow([]byte("video"), FlowOptions{TimeCritical: true})
	bulk, _ := cs2.OpenFlow([]byte("bulk"), FlowOptions{})
	for i := 0; i < 50; i++ {
		media.Write(make([]byte, 1000), WriteOptions{Deadline: time.Second})
		bulk.Write(make([]byte, 1000), WriteOptions{})
		time.Sleep(5 * time.Millisecond)
		cs2.mu.Lock()
		got := !cs2.tcrAt.IsZero()
		cs2.mu.Unlock()
		if got {
			cs1.mu.Lock()
			own := cs1.tcrAt.IsZero()
			cs1.mu.Unlock()
			if !own {
				t.Fatal("the time-critical sender itself was told to yield")
			}
			return
		}
	}
	t.Fatal("no Time Critical Reverse Notification reached the bulk sender")
}

// A receiver that stops reading closes its window: the sender suspends
// (probing the window) and resumes when the reader drains the buffer.
func TestZeroWindowAndProbe(t *testing.T) {
	leakCheck(t)
	scfg := testConfig()
	scfg.RecvBuffer = 8 << 10
	_, _, ss, cs := pair(t, scfg, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, _ := cs.OpenFlow([]byte("bulk"), FlowOptions{})
	go func() {
		for i := 0; i < 50; i++ {
			if err := f.WriteContext(ctx, make([]byte, 2000), WriteOptions{}); err != nil {
				return
			}
		}
		f.Close()
	}()
	rf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	suspended := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !suspended; time.Sleep(20 * time.Millisecond) {
		cs.mu.Lock()
		suspended = f.rxWindow == 0 && f.head < len(f.q)
		cs.mu.Unlock()
	}
	if !suspended {
		t.Fatal("the sender never saw a closed window")
	}
	time.Sleep(1500 * time.Millisecond) // long enough for a buffer probe
	n := 0
	for {
		_, err := rf.ReadMessage(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v\n%s\n%s", n, err, cs.dump(), ss.dump())
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d of 50 messages", n)
	}
}

// TestDeferredWritesFlush: deferred writes go out when the writer calls
// Flush, from its goroutine, in order and complete through loss,
// duplication, reordering and delay: retransmission depends on the timer
// Flush re-arms for the run loop, since nothing wakes the session's
// goroutine for these writes.
func TestDeferredWritesFlush(t *testing.T) {
	leakCheck(t)
	_, cs, ss := relayed(t, harsh)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := ss.OpenFlow([]byte("TC\x04\x00media"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 120
	msgOf := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i*37%3000) }
	for i := range n {
		if err := f.Write(msgOf(i), WriteOptions{Deferred: true}); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			ss.Flush()
		}
	}
	ss.Flush()
	rf, err := cs.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := rf.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := msgOf(i); m.Gap || !bytes.Equal(m.Data, want) {
			t.Fatalf("message %d: %d bytes (gap %v), want %d of %d", i, len(m.Data), m.Gap, len(want), byte(i))
		}
	}
}

// TestWriteShared: messages written as a copied head and a referenced body
// arrive byte for byte whatever the split between fragments (a body
// shorter than a fragment, one of exactly a fragment's size, many
// fragments, no body, no head), and the fragments wholly inside the body
// point into it rather than into the flow's blocks.
func TestWriteShared(t *testing.T) {
	leakCheck(t)
	_, _, ss, cs := pair(t, testConfig(), testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := cs.OpenFlow([]byte("shared"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	size := cs.fragmentSize(f)
	bodies := []int{0, 1, size - 5, size, size + 1, 7*size + 3, 20000}
	heads := [][]byte{{9, 0, 0, 0, 1}, nil}
	var want [][]byte

	// A long body written before anything else: deferred, and with nothing
	// in flight whose acknowledgement could wake the session, it stays
	// queued until Flush, so its fragments can be looked at.
	big := make([]byte, 7*size+3)
	for j := range big {
		big[j] = byte(j)
	}
	if err := f.WriteShared(heads[0], big, WriteOptions{Deferred: true}); err != nil {
		t.Fatal(err)
	}
	want = append(want, append(append([]byte(nil), heads[0]...), big...))
	cs.mu.Lock()
	var mid sendFrag
	if len(f.q) >= 2 {
		mid = f.q[len(f.q)-2] // a fragment wholly inside the body
	}
	cs.mu.Unlock()
	if mid.blk != nil || !within(big, mid.data) {
		t.Fatal("a middle fragment of a long body was copied, not referenced")
	}
	cs.Flush()

	for _, head := range heads {
		for i, n := range bodies {
			body := make([]byte, n)
			for j := range body {
				body[j] = byte(i*31 + j)
			}
			if err := f.WriteShared(head, body, WriteOptions{Deferred: true}); err != nil {
				t.Fatal(err)
			}
			want = append(want, append(append([]byte(nil), head...), body...))
			cs.Flush()
		}
	}
	sf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		m, err := sf.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(m.Data, w) {
			t.Fatalf("message %d: %d bytes differ from the %d written", i, len(m.Data), len(w))
		}
	}
}

// within reports whether d lies inside b's bytes.
func within(b, d []byte) bool {
	if len(b) == 0 || len(d) == 0 {
		return false
	}
	lo, hi := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	p, q := uintptr(unsafe.Pointer(&d[0])), uintptr(unsafe.Pointer(&d[len(d)-1]))
	return lo <= p && q <= hi
}

// TestServeSessionOnOneGoroutine: Readable, TryAcceptFlow and
// TryReadMessage let one goroutine take every flow of a session and their
// messages in order, including what arrived before the peer closed, and
// then the end of the session.
func TestServeSessionOnOneGoroutine(t *testing.T) {
	leakCheck(t)
	_, _, ss, cs := pair(t, testConfig(), testConfig())
	if f, err := ss.TryAcceptFlow(); f != nil || err != nil {
		t.Fatalf("TryAcceptFlow before any flow: %v, %v", f, err)
	}
	const flows, perFlow = 3, 20
	for i := range flows {
		f, err := cs.OpenFlow([]byte{'f', byte('0' + i)}, FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range perFlow {
			if err := f.Write([]byte{byte(i), byte(j)}, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if i == flows-1 {
			f.Close()
		}
	}
	got := map[byte][]byte{} // flow number -> message numbers in order
	var recv []*RecvFlow
	ended := false // the last flow's io.EOF
	timeout := time.After(10 * time.Second)
	for len(got[0])+len(got[1])+len(got[2]) < flows*perFlow || !ended {
		for {
			f, err := ss.TryAcceptFlow()
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				break
			}
			recv = append(recv, f)
		}
		for _, f := range recv {
			for {
				m, ok, err := f.TryReadMessage()
				if errors.Is(err, io.EOF) && f.Metadata()[1] == byte('0'+flows-1) {
					ended = true
				} else if err != nil {
					t.Fatalf("flow %q: %v", f.Metadata(), err)
				}
				if !ok {
					break
				}
				got[m.Data[0]] = append(got[m.Data[0]], m.Data[1])
			}
		}
		select {
		case <-ss.Readable():
		case <-timeout:
			t.Fatalf("after %d flows and %v: no more tokens", len(recv), got)
		}
	}
	for i := range byte(flows) {
		for j, n := range got[i] {
			if n != byte(j) {
				t.Fatalf("flow %d: messages %v, want 0..%d in order", i, got[i], perFlow-1)
			}
		}
	}
	// The peer's close: a token, then TryAcceptFlow reports it.
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-ss.Readable():
		case <-time.After(5 * time.Second):
			t.Fatal("no token after the peer closed")
		}
		if _, err := ss.TryAcceptFlow(); err != nil {
			if !errors.Is(err, ErrPeerClosed) {
				t.Fatalf("TryAcceptFlow after the peer closed: %v", err)
			}
			break
		}
	}
	if _, _, err := recv[0].TryReadMessage(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read on a closed session: %v", err)
	}
}
