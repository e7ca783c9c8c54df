package wire

// Data acknowledgements: Bitmap Ack (0x50, RFC 7016 §2.3.13) and Range Ack
// (0x51, §2.3.14) both carry a flow ID, the receive window in 1024-byte
// blocks and a cumulative acknowledgement, followed by the sequence numbers
// received beyond it, encoded either as a bitmap or as run lengths. Senders
// should pick the more compact form; AppendAck does.

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct{ Start, End uint64 }

// Ack is a decoded acknowledgement. Ranges beyond the cumulative
// acknowledgement are read with Next, which does not allocate.
type Ack struct {
	FlowID       uint64
	BufferBlocks uint64 // receive window in 1024-byte blocks
	CumAck       uint64 // every sequence number <= CumAck is acknowledged

	bitmap bool
	rest   []byte
	cursor uint64
	bit    uint
}

// ParseAck decodes the payload of a chunk of type ChunkAckBitmap or
// ChunkAckRanges.
func ParseAck(typ byte, p []byte) (Ack, error) {
	var a Ack
	var n int
	var err error
	if a.FlowID, n, err = ParseVLU(p); err != nil {
		return Ack{}, err
	}
	p = p[n:]
	if a.BufferBlocks, n, err = ParseVLU(p); err != nil {
		return Ack{}, err
	}
	p = p[n:]
	if a.CumAck, n, err = ParseVLU(p); err != nil {
		return Ack{}, err
	}
	a.rest = p[n:]
	a.bitmap = typ == ChunkAckBitmap
	if a.bitmap {
		a.cursor = a.CumAck + 2 // the first bit stands for CumAck+2
	} else {
		a.cursor = a.CumAck
	}
	return a, nil
}

// Next returns the next acknowledged range beyond CumAck. A truncated final
// range of a Range Ack is ignored, as §2.3.14 requires.
func (a *Ack) Next() (SeqRange, bool) {
	if a.bitmap {
		return a.nextBitmap()
	}
	holes, n, err := ParseVLU(a.rest)
	if err != nil {
		return SeqRange{}, false
	}
	recv, m, err := ParseVLU(a.rest[n:])
	if err != nil {
		return SeqRange{}, false
	}
	a.rest = a.rest[n+m:]
	start := a.cursor + holes + 2
	end := start + recv
	if start <= a.cursor || end < start { // overflow: stop
		a.rest = nil
		return SeqRange{}, false
	}
	a.cursor = end
	return SeqRange{start, end}, true
}

func (a *Ack) nextBitmap() (SeqRange, bool) {
	// Find the next set bit, then extend over the following set bits.
	for len(a.rest) > 0 {
		if a.rest[0]>>a.bit&1 != 0 {
			break
		}
		a.advanceBit()
	}
	if len(a.rest) == 0 {
		return SeqRange{}, false
	}
	r := SeqRange{Start: a.cursor}
	for len(a.rest) > 0 && a.rest[0]>>a.bit&1 != 0 {
		r.End = a.cursor
		a.advanceBit()
	}
	return r, true
}

func (a *Ack) advanceBit() {
	a.cursor++
	a.bit++
	if a.bit == 8 {
		a.bit = 0
		a.rest = a.rest[1:]
	}
}

// AckSizes returns the payload sizes of the bitmap and ranges encodings of
// ranges after cumAck (ranges sorted, disjoint, non-adjacent, all > cumAck+1).
func ackBodySizes(cumAck uint64, ranges []SeqRange) (bitmap, runs int) {
	if len(ranges) == 0 {
		return 0, 0
	}
	last := ranges[len(ranges)-1].End
	if span := last - (cumAck + 1); span < 1<<20 {
		bitmap = int((span + 7) / 8)
	} else {
		bitmap = 1 << 30
	}
	cursor := cumAck
	for _, r := range ranges {
		runs += VLULen(r.Start-cursor-2) + VLULen(r.End-r.Start)
		cursor = r.End
	}
	return bitmap, runs
}

// AppendAck appends an acknowledgement for flowID using whichever of the
// Bitmap and Range encodings is smaller. ranges lists the received sequence
// numbers beyond cumAck (sorted, disjoint, separated by gaps, each starting
// after cumAck+1). If maxLen > 0, trailing ranges are dropped so the chunk
// fits in maxLen bytes; the acknowledgement stays correct, only less
// complete. It returns b unchanged if not even the fixed part fits.
func AppendAck(b []byte, flowID, bufferBlocks, cumAck uint64, ranges []SeqRange, maxLen int) []byte {
	fixed := ChunkHeaderLen + VLULen(flowID) + VLULen(bufferBlocks) + VLULen(cumAck)
	if maxLen > 0 {
		if fixed > maxLen {
			return b
		}
		for len(ranges) > 0 {
			bm, rn := ackBodySizes(cumAck, ranges)
			if fixed+min(bm, rn) <= maxLen {
				break
			}
			ranges = ranges[:len(ranges)-1]
		}
	}
	bm, rn := ackBodySizes(cumAck, ranges)
	typ := ChunkAckRanges
	body := rn
	if bm < rn {
		typ, body = ChunkAckBitmap, bm
	}
	l := fixed - ChunkHeaderLen + body
	b = append(b, typ, byte(l>>8), byte(l))
	b = AppendVLU(b, flowID)
	b = AppendVLU(b, bufferBlocks)
	b = AppendVLU(b, cumAck)
	if typ == ChunkAckRanges {
		cursor := cumAck
		for _, r := range ranges {
			b = AppendVLU(b, r.Start-cursor-2)
			b = AppendVLU(b, r.End-r.Start)
			cursor = r.End
		}
		return b
	}
	base := cumAck + 2
	start := len(b)
	for i := 0; i < body; i++ {
		b = append(b, 0)
	}
	for _, r := range ranges {
		for s := r.Start; s <= r.End; s++ {
			off := s - base
			b[start+int(off/8)] |= 1 << (off % 8)
		}
	}
	return b
}
