//go:build !race

package rtmfp

// bigTransfer is the size of the one large transfer of TestHandshakeMatrix.
const bigTransfer = 50 << 20

const raceEnabled = false
