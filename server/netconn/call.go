package netconn

import (
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// maxPendingCalls bounds the server-to-client calls waiting for a reply on
// one connection, so a client that never answers cannot grow the table.
const maxPendingCalls = 256

// Call implements apps.Client: it sends method to the client as a command
// on stream 0 (AMS Client.call). With a result callback the command carries
// a transaction ID, and the client's _result or _error reaches result from
// the reader goroutine; if the connection closes first, result gets
// ErrClosed. Safe from any goroutine.
func (c *Conn) Call(method string, args []any, result func(any, error)) error {
	var txn float64
	if result != nil {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return ErrClosed
		case len(c.calls) >= maxPendingCalls:
			c.mu.Unlock()
			return ErrTooManyCalls
		}
		if c.calls == nil {
			c.calls = make(map[float64]func(any, error))
		}
		c.lastTxn++
		txn = c.lastTxn
		c.calls[txn] = result
		c.mu.Unlock()
	}
	err := c.sendCommand(0, method, txn, nil, args...)
	if err != nil && result != nil {
		c.mu.Lock()
		delete(c.calls, txn)
		c.mu.Unlock()
	}
	return err
}

// onCallReply routes a client's _result or _error to the server call it
// answers. Replies to nothing we asked are ignored.
func (c *Conn) onCallReply(cmd *protocol.Command) {
	c.mu.Lock()
	result := c.calls[cmd.TxnID]
	delete(c.calls, cmd.TxnID)
	c.mu.Unlock()
	if result == nil {
		c.log.Debug("reply to no pending call", zap.String("command", cmd.Name), zap.Float64("txn", cmd.TxnID))
		return
	}
	if cmd.Name == "_error" {
		result(nil, &apps.CallError{Info: cmd.Arg(0)})
		return
	}
	result(cmd.Arg(0), nil)
}
