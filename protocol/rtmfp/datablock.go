package rtmfp

import (
	"sync"
	"time"
)

// Flow payload storage. Sending flows copy each message into fragments and
// receiving flows copy each fragment out of its packet buffer; both store the
// bytes in pooled blocks instead of allocating per message or per
// fragment. A block is reference counted by the fragments that point into
// it and returns to the pool when the last one is acknowledged, abandoned or
// delivered. Fragments never straddle blocks.
//
// A flow's current block lives as long as the flow writes into it, so its
// size follows the flow's use: a flow starts with 4 KiB blocks and moves up
// a size when it fills one within blockFast (a burst: a GOP replayed to a
// joiner), down when one lasts longer than blockSlow or is given back
// (close: everything acknowledged) with most of it unused. A live player's
// flows are acknowledged between frames and copy only a frame's first
// fragment, so they settle on 4 KiB blocks; a session holds kilobytes
// rather than a 64 KiB block per flow.

// blockSizes are the block size classes, smallest first.
var blockSizes = [...]int{4 << 10, 16 << 10, 64 << 10}

const (
	blockFast = 250 * time.Millisecond
	blockSlow = 4 * time.Second
)

type dataBlock struct {
	buf   []byte
	used  int // bytes handed out
	refs  int // fragments pointing into buf
	class int // index into blockSizes; -1 for a one-off larger block
}

var blockPools = [len(blockSizes)]sync.Pool{
	{New: func() any { return newBlock(0) }},
	{New: func() any { return newBlock(1) }},
	{New: func() any { return newBlock(2) }},
}

func newBlock(class int) *dataBlock {
	return &dataBlock{buf: make([]byte, blockSizes[class]), class: class}
}

// blockWriter hands out space in a current block, starting a new one when
// it is full.
type blockWriter struct {
	cur   *dataBlock
	class int       // size class of the next block
	since time.Time // when cur was started
}

// alloc returns n bytes and the block that holds them, with its reference
// count incremented.
func (w *blockWriter) alloc(n int) ([]byte, *dataBlock) {
	if w.cur == nil || w.cur.used+n > len(w.cur.buf) {
		w.next(n)
	}
	b := w.cur
	s := b.buf[b.used : b.used+n : b.used+n]
	b.used += n
	b.refs++
	return s, b
}

// next starts a block that holds at least n bytes, sized for the rate at
// which the last one filled.
func (w *blockWriter) next(n int) {
	now := time.Now()
	if w.cur != nil {
		switch age := now.Sub(w.since); {
		case age < blockFast && w.class < len(blockSizes)-1:
			w.class++
		case age > blockSlow && w.class > 0:
			w.class--
		}
		w.cur.release() // drop the writer's own reference
	}
	class := w.class
	for class < len(blockSizes) && blockSizes[class] < n {
		class++
	}
	if class == len(blockSizes) {
		w.cur = &dataBlock{buf: make([]byte, n), class: -1}
	} else {
		w.cur = blockPools[class].Get().(*dataBlock)
	}
	w.cur.used, w.cur.refs = 0, 1
	w.since = now
}

// close drops the writer's reference to its current block; the next
// block is a size smaller if this one was mostly unused.
func (w *blockWriter) close() {
	if w.cur != nil {
		if w.cur.used < len(w.cur.buf)/4 && w.class > 0 {
			w.class--
		}
		w.cur.release()
		w.cur = nil
	}
}

func (b *dataBlock) release() {
	b.refs--
	if b.refs == 0 && b.class >= 0 {
		blockPools[b.class].Put(b)
	}
}
