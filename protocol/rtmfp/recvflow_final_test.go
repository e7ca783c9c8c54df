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
