//go:build unix

package rtmfp

import (
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testnet"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// After a transfer, idle sessions sleep: their run loops must not spin on
// deadlines already in the past.
func TestIdleSessionsDoNotSpin(t *testing.T) {
	leakCheck(t)
	_, cs, ss := relayed(t, testnet.Impairments{Delay: 20 * time.Millisecond})
	transfer(t, cs, ss, 2<<20, 64<<10)
	time.Sleep(300 * time.Millisecond)
	before := cpuTime()
	time.Sleep(time.Second)
	if used := cpuTime() - before; used > 150*time.Millisecond {
		t.Fatalf("idle sessions used %v of CPU in 1 s", used)
	}
}
