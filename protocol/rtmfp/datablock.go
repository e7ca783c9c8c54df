package rtmfp

import "sync"

// Flow payload storage. Sending flows copy each message into fragments and
// receiving flows copy each fragment out of its packet buffer; both store the
// bytes in pooled 64 KiB blocks instead of allocating per message or per
// fragment. A block is reference counted by the fragments that point into
// it and returns to the pool when the last one is acknowledged, abandoned or
// delivered. Fragments never straddle blocks.

const blockSize = 64 << 10

type dataBlock struct {
	buf  [blockSize]byte
	used int // bytes handed out
	refs int // fragments pointing into buf
}

var blockPool = sync.Pool{New: func() any { return new(dataBlock) }}

// blockWriter hands out space in a current block, starting a new one when
// it is full.
type blockWriter struct {
	cur *dataBlock
}

// alloc returns n bytes (n <= blockSize) and the block that holds them,
// with its reference count incremented.
func (w *blockWriter) alloc(n int) ([]byte, *dataBlock) {
	if w.cur == nil || w.cur.used+n > blockSize {
		if w.cur != nil {
			w.cur.release() // drop the writer's own reference
		}
		w.cur = blockPool.Get().(*dataBlock)
		w.cur.used, w.cur.refs = 0, 1
	}
	b := w.cur
	s := b.buf[b.used : b.used+n : b.used+n]
	b.used += n
	b.refs++
	return s, b
}

// close drops the writer's reference to its current block.
func (w *blockWriter) close() {
	if w.cur != nil {
		w.cur.release()
		w.cur = nil
	}
}

func (b *dataBlock) release() {
	b.refs--
	if b.refs == 0 {
		blockPool.Put(b)
	}
}
