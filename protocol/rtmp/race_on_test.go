//go:build race

package rtmp

// raceEnabled reports a -race build: sync.Pool then drops items at random,
// so allocation counts of code that uses a pool are meaningless (make test
// runs the allocation tests again without -race).
const raceEnabled = true
