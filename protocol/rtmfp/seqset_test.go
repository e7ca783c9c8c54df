package rtmfp

import (
	"math/rand/v2"
	"testing"
)

func TestSeqSet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		s := newSeqSet()
		ref := map[uint64]bool{0: true}
		for i := 0; i < 60; i++ {
			a := r.Uint64N(100)
			b := a
			if r.IntN(4) == 0 {
				b = a + r.Uint64N(10)
			}
			s.addRange(a, b)
			for v := a; v <= b; v++ {
				ref[v] = true
			}
		}
		for v := uint64(0); v < 120; v++ {
			if s.contains(v) != ref[v] {
				t.Fatalf("trial %d: contains(%d) = %v", trial, v, s.contains(v))
			}
		}
		for i := 1; i < len(s.r); i++ {
			if s.r[i].Start <= s.r[i-1].End+1 {
				t.Fatalf("ranges not normalised: %v", s.r)
			}
		}
		csn := uint64(0)
		for ref[csn+1] {
			csn++
		}
		if s.csn() != csn {
			t.Fatalf("csn %d, want %d", s.csn(), csn)
		}
	}
}
