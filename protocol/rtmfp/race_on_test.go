//go:build race

package rtmfp

// bigTransfer is smaller under the race detector, which slows the data path
// about tenfold; the full 50 MB runs without -race.
const bigTransfer = 8 << 20

// raceEnabled reports a -race build: sync.Pool then drops items at random,
// so allocation counts are meaningless.
const raceEnabled = true
