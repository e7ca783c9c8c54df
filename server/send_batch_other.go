//go:build !linux

package server

import (
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
)

// sendBatch gathers fan-out writes where io_uring exists; elsewhere there
// are none, and every write goes out when its player is notified.
type sendBatch struct{}

func (*sendBatch) add(c *rtmpConn) { c.sendNow(c.w.Pending(nil)) }

// Flush implements media.Batch.
func (*sendBatch) Flush() {}

// batchPool hands out no batches here.
type batchPool struct{}

func newBatchPool(*zap.Logger, int) *batchPool { return &batchPool{} }

func (*batchPool) get() media.Batch { return nil }
func (*batchPool) close()           {}
