//go:build race

package rtmfp

// bigTransfer is smaller under the race detector, which slows the data path
// about tenfold; the full 50 MB runs without -race.
const bigTransfer = 8 << 20
