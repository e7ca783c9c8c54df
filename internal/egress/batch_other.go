//go:build !linux

package egress

import (
	"errors"

	"go.uber.org/zap"
)

// SendBatch gathers fan-out writes where io_uring exists; elsewhere there
// are none (BatchPool.Get returns nil).
type SendBatch struct{}

// Add writes at once.
func (*SendBatch) Add(s Sender, _ *SharedFD) { s.SendNow(s.Pending(nil)) }

// Flush does nothing: Add wrote.
func (*SendBatch) Flush() {}

// URingAvailable reports that there is no io_uring here.
func URingAvailable() error { return errors.ErrUnsupported }

// BatchPool hands out no batches here.
type BatchPool struct{}

// NewBatchPool makes a pool that has no batches to give.
func NewBatchPool(*zap.Logger, int) *BatchPool { return &BatchPool{} }

// Get returns nil: no batches here.
func (*BatchPool) Get() *SendBatch { return nil }

// Writes is 0: no batches here.
func (*BatchPool) Writes() uint64 { return 0 }

// Close does nothing.
func (*BatchPool) Close() {}
