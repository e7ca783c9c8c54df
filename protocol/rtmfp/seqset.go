package rtmfp

import (
	"math"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// seqSet is a receiving flow's SEQUENCE_SET (RFC 7016 §3.6.3): the sorted,
// disjoint, non-adjacent ranges of sequence numbers seen. It always
// contains 0, so the first range is the cumulative acknowledgement (CSN).
// The ranges after the first are exactly what an acknowledgement encodes,
// so acks are built from it without conversion.
type seqSet struct {
	r []wire.SeqRange
}

func newSeqSet() seqSet { return seqSet{r: []wire.SeqRange{{Start: 0, End: 0}}} }

// csn is the cumulative acknowledgement sequence number.
func (s *seqSet) csn() uint64 { return s.r[0].End }

// ranges returns the ranges above the CSN.
func (s *seqSet) ranges() []wire.SeqRange { return s.r[1:] }

// highest is the highest sequence number seen.
func (s *seqSet) highest() uint64 { return s.r[len(s.r)-1].End }

func (s *seqSet) hasGaps() bool { return len(s.r) > 1 }

func (s *seqSet) contains(v uint64) bool {
	i := s.search(v)
	return i < len(s.r) && s.r[i].Start <= v
}

// search returns the index of the first range whose End >= v.
func (s *seqSet) search(v uint64) int {
	lo, hi := 0, len(s.r)
	for lo < hi {
		m := (lo + hi) / 2
		if s.r[m].End < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// wouldGrow reports whether adding v would create a new range.
func (s *seqSet) wouldGrow(v uint64) bool {
	i := s.search(v)
	if i < len(s.r) && s.r[i].Start <= v+1 {
		return false
	}
	return i == 0 || s.r[i-1].End+1 != v
}

// add inserts v.
func (s *seqSet) add(v uint64) { s.addRange(v, v) }

// addRange inserts [a, b], merging with neighbours.
func (s *seqSet) addRange(a, b uint64) {
	i := s.search(a) // first range with End >= a
	if i > 0 && s.r[i-1].End+1 == a {
		i--
	}
	j := i
	for j < len(s.r) && (b == math.MaxUint64 || s.r[j].Start <= b+1) {
		j++
	}
	if i == j {
		s.r = append(s.r, wire.SeqRange{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = wire.SeqRange{Start: a, End: b}
		return
	}
	nr := wire.SeqRange{Start: min(a, s.r[i].Start), End: max(b, s.r[j-1].End)}
	s.r[i] = nr
	s.r = append(s.r[:i+1], s.r[j:]...)
}
