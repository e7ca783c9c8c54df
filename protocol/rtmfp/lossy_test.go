package rtmfp

import (
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testnet"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
)

var harsh = testnet.Impairments{
	Loss:      0.05,
	Duplicate: 0.02,
	Reorder:   0.05,
	Corrupt:   0.01,
	Delay:     50 * time.Millisecond,
}

// relayed dials server through a lossy relay.
func relayed(t *testing.T, imp testnet.Impairments) (*testnet.Relay, *Session, *Session) {
	t.Helper()
	server := listen(t, testConfig())
	client := listen(t, testConfig())
	r, err := testnet.New(addrOf(server), imp, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	accepted := make(chan *Session, 1)
	go func() {
		s, _ := server.Accept(ctx)
		accepted <- s
	}()
	cs, err := client.DialEPD(ctx, flashcrypto.AppendURLEPD(nil, "rtmfp://relay/app"), r.Addr())
	if err != nil {
		t.Fatalf("dial through relay: %v", err)
	}
	ss := <-accepted
	if ss == nil {
		t.Fatal("no session accepted")
	}
	return r, cs, ss
}

// Test 2a: through 5% loss, duplication, reordering, 1% corruption and
// 50 ms delay, a reliable ordered flow delivers every byte in order.
func TestLossyReliableOrdered(t *testing.T) {
	leakCheck(t)
	_, cs, ss := relayed(t, harsh)
	transfer(t, cs, ss, 384<<10, 3000)
	if rtt := cs.RTT(); rtt < 90*time.Millisecond {
		t.Errorf("RTT %v through a relay adding 2×50 ms", rtt)
	}
}

// Test 2b: a flow whose messages have a 200 ms deadline abandons the ones
// a blackout delays; the receiver reports a gap and keeps receiving.
func TestDeadlineAbandonment(t *testing.T) {
	leakCheck(t)
	r, cs, ss := relayed(t, harsh)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := cs.OpenFlow([]byte("media"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const total = 150
	go func() {
		msg := make([]byte, 1000)
		for i := 0; i < total; i++ {
			if i == 50 {
				r.Blackout(600 * time.Millisecond)
			}
			binary.BigEndian.PutUint32(msg, uint32(i))
			binary.BigEndian.PutUint64(msg[4:], uint64(time.Now().UnixNano()))
			if err := f.Write(msg, WriteOptions{Deadline: 200 * time.Millisecond}); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
		f.Close()
	}()
	rf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	received, gaps, last := 0, 0, -1
	var worst time.Duration
	for {
		m, err := rf.ReadMessage(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v (received %d)\nclient %s\nserver %s", err, received, cs.dump(), ss.dump())
		}
		i := int(binary.BigEndian.Uint32(m.Data))
		if i <= last {
			t.Fatalf("message %d after %d: out of order", i, last)
		}
		if m.Gap {
			gaps++
		} else if i != last+1 {
			t.Fatalf("message %d follows %d without a gap flag", i, last)
		}
		age := time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(m.Data[4:]))))
		if i > 80 {
			worst = max(worst, age)
		}
		last = i
		received++
	}
	t.Logf("delivered %d of %d messages, %d gaps, worst late-message age %v", received, total, gaps, worst)
	if gaps == 0 || received == total {
		t.Fatalf("received %d of %d with %d gaps: nothing was abandoned", received, total, gaps)
	}
	if received < total/3 {
		t.Fatalf("only %d of %d delivered", received, total)
	}
	// After the blackout, messages are not held behind the abandoned ones.
	if worst > 2*time.Second {
		t.Fatalf("late messages waited %v: the flow stalled", worst)
	}
}

// Test 3: the client's address changes mid-transfer (the relay rebinds);
// the session continues without a new handshake and reports the change.
func TestMobility(t *testing.T) {
	leakCheck(t)
	r, cs, ss := relayed(t, testnet.Impairments{Delay: 5 * time.Millisecond})
	before := ss.RemoteAddr()
	done := make(chan struct{})
	go func() {
		defer close(done)
		transfer(t, cs, ss, 4<<20, 16<<10)
	}()
	time.Sleep(300 * time.Millisecond)
	if err := r.Rebind(); err != nil {
		t.Fatal(err)
	}
	<-done
	select {
	case ev := <-ss.Events():
		if ev.Kind != EventAddressChanged || ev.Addr != r.BackAddr() {
			t.Fatalf("event %+v, want address change to %v", ev, r.BackAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no address change event")
	}
	if after := ss.RemoteAddr(); after == before || after != r.BackAddr() {
		t.Fatalf("server still sends to %v (was %v, relay now %v)", after, before, r.BackAddr())
	}
	if ss.Err() != nil || cs.Err() != nil {
		t.Fatalf("session ended: %v / %v", ss.Err(), cs.Err())
	}
}
