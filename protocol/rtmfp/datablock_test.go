package rtmfp

import "testing"

// TestBlockWriterSizes: a writer starts with the smallest blocks, moves up
// a size for each block it fills in a burst, down when it gives a mostly
// unused block back, and fits a fragment larger than its class (or than
// any class) in a block of its own.
func TestBlockWriterSizes(t *testing.T) {
	var w blockWriter
	size := func() int { return len(w.cur.buf) }
	var held []*dataBlock
	take := func(n int) {
		_, b := w.alloc(n)
		held = append(held, b)
	}
	take(100)
	if got := size(); got != blockSizes[0] {
		t.Fatalf("first block %d bytes, want %d", got, blockSizes[0])
	}
	// A burst: each filled block makes the next one larger, up to the top.
	for _, want := range []int{blockSizes[1], blockSizes[2], blockSizes[2]} {
		for w.cur.used+1000 <= len(w.cur.buf) {
			take(1000)
		}
		take(1000)
		if got := size(); got != want {
			t.Fatalf("after a filled block: %d bytes, want %d", got, want)
		}
	}
	// Given back mostly unused: one size down each time.
	for _, want := range []int{blockSizes[1], blockSizes[0], blockSizes[0]} {
		w.close()
		take(100)
		if got := size(); got != want {
			t.Fatalf("after an idle close: %d bytes, want %d", got, want)
		}
	}
	// A fragment larger than the class gets a larger block; one larger
	// than every class a block of its own, not pooled.
	w.close()
	take(blockSizes[1] + 1)
	if got := size(); got != blockSizes[2] {
		t.Fatalf("fragment of %d bytes in a %d-byte block", blockSizes[1]+1, got)
	}
	take(blockSizes[2] + 1)
	if w.cur.class != -1 || size() != blockSizes[2]+1 {
		t.Fatalf("oversized fragment: class %d, %d bytes", w.cur.class, size())
	}
	// Every block returns once its fragments and the writer let go.
	w.close()
	for _, b := range held {
		b.release()
	}
	for _, b := range held {
		if b.refs != 0 {
			t.Fatalf("block left with %d references", b.refs)
		}
	}
}
