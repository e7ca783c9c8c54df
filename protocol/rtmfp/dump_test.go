package rtmfp

import (
	"fmt"
	"strings"
)

func (s *Session) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "state=%d out=%d cwnd=%d erto=%v rtoAt=%v ackPending=%v\n", s.state, s.outstanding, s.cc.Window(), s.erto, s.rtoAt, s.ackPending)
	for _, f := range s.sendOrder {
		fmt.Fprintf(&b, " send flow %d head=%d len=%d cursor=%d out=%d rxw=%d queued=%d fsn=%d\n", f.id, f.head, len(f.q), f.cursor, f.outstanding, f.rxWindow, f.queued, f.fsn())
		for i := f.head; i < len(f.q) && i < f.head+12; i++ {
			e := f.q[i]
			fmt.Fprintf(&b, "   seq=%d fra=%d abn=%v inf=%v sent=%v acked=%v\n", e.seq, e.fra, e.abandoned, e.inFlight, e.everSent, e.acked)
		}
	}
	for _, f := range s.recvFlows {
		fmt.Fprintf(&b, " recv flow %d csn=%d ranges=%v frags=%d state=%d\n", f.id, f.seqs.csn(), f.seqs.ranges(), len(f.frags)-f.head, f.state)
		for i := f.head; i < len(f.frags) && i < f.head+8; i++ {
			fmt.Fprintf(&b, "   seq=%d fra=%d\n", f.frags[i].seq, f.frags[i].fra)
		}
	}
	return b.String()
}
