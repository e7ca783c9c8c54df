package rtmfp

import (
	"testing"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// TestFinalFlagOnCoveredSequence: a sender abandons its last message and
// covers it with a forward sequence number update, then Close marks that
// same sequence number final. The receiver must end the flow although the
// final chunk repeats a sequence number it already holds (this once left a
// flow open forever under load).
func TestFinalFlagOnCoveredSequence(t *testing.T) {
	f := newRecvFlow(&Session{}, 2, []byte("m"), nil)
	f.onData(&wire.UserData{FlowID: 2, Seq: 1, Data: []byte("a")}, 1<<20)
	f.onData(&wire.UserData{FlowID: 2, Seq: 2, Abandon: true}, 1<<20) // FSN update, not final yet
	if f.state == recvComplete {
		t.Fatal("complete before the final flag")
	}
	f.onData(&wire.UserData{FlowID: 2, Seq: 2, Abandon: true, Final: true}, 1<<20)
	if m, ok := f.next(); !ok || string(m.Data) != "a" {
		t.Fatalf("first message: %q %v", m.Data, ok)
	}
	f.checkComplete()
	if f.state != recvComplete || !f.eof {
		t.Fatalf("flow state %v, eof %v: the final flag on a covered sequence number was ignored", f.state, f.eof)
	}
}

// TestFSNCoveringItsOwnChunk: the messages after a lost one arrive (the last
// marked final), then the lost one's abandonment comes as a chunk whose
// forward sequence number covers itself and everything buffered. The
// receiver must process it — wake the reader, deliver what it holds and
// end the flow. (The memory bound once compared the chunk's sequence number
// with a cumulative ack the FSN had just moved past it, underflowed, and
// dropped the chunk unprocessed: the reader slept forever.)
func TestFSNCoveringItsOwnChunk(t *testing.T) {
	f := newRecvFlow(&Session{}, 2, []byte("m"), nil)
	f.onData(&wire.UserData{FlowID: 2, Seq: 1, Data: []byte("a")}, 1<<20)
	f.onData(&wire.UserData{FlowID: 2, Seq: 3, FSNOffset: 2, Data: []byte("c")}, 1<<20)
	f.onData(&wire.UserData{FlowID: 2, Seq: 4, FSNOffset: 3, Data: []byte("d"), Final: true}, 1<<20)
	for _, want := range []string{"a"} {
		if m, ok := f.next(); !ok || string(m.Data) != want {
			t.Fatalf("message %q: got %q %v", want, m.Data, ok)
		}
	}
	<-f.ready                                                         // drain the signal of the earlier chunks
	f.onData(&wire.UserData{FlowID: 2, Seq: 2, Abandon: true}, 1<<20) // FSN = 2
	select {
	case <-f.ready:
	default:
		t.Fatal("the reader was not woken")
	}
	for _, want := range []string{"c", "d"} {
		if m, ok := f.next(); !ok || string(m.Data) != want {
			t.Fatalf("message %q: got %q %v", want, m.Data, ok)
		}
	}
	f.checkComplete()
	if f.state != recvComplete || !f.eof {
		t.Fatalf("flow state %v, eof %v after every sequence number through the final one", f.state, f.eof)
	}
}
