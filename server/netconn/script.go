package netconn

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// decide applies the application's connect decision. It may run on the
// script's goroutine long after the connect arrived (a pending connect), so
// it only acts while the connect is still pending and the connection open.
func (c *Conn) decide(txn float64, d apps.Decision) {
	c.mu.Lock()
	if c.closed || c.state.Load() != statePending {
		c.mu.Unlock()
		return
	}
	if !d.Accept {
		c.state.Store(stateRejected)
		c.mu.Unlock()
		c.rejectDecision(txn, d)
		return
	}
	c.state.Store(stateAccepted)
	c.mu.Unlock()
	// AddClient tells monitoring, which reads Info, so mu cannot be held.
	// Close leaves the instance when it sees the connection accepted; if it
	// ran before AddClient, leave again here.
	c.inst.AddClient(c)
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		c.inst.RemoveClient(c)
		return
	}
	if err := c.accept(txn); err != nil {
		c.log.Warn("cannot send the connect result", zap.Error(err))
		c.tr.Close(err)
	}
}

// rejectDecision sends NetConnection.Connect.Rejected with what the
// application gave: its error object as info.application and, for a
// redirect, ex {code 302, redirect} (reference ams-behaviour.md §2.5, §2.6).
func (c *Conn) rejectDecision(txn float64, d apps.Decision) {
	desc := d.Description
	if desc == "" {
		desc = "Connection rejected by the application."
		if d.Redirect != "" {
			desc = "Connection failed"
		}
	}
	var extra []amf.Property
	if d.Redirect != "" {
		extra = append(extra, amf.Property{Key: "ex", Value: amf.Object{
			{Key: "code", Value: 302.0}, {Key: "redirect", Value: d.Redirect},
		}})
	}
	if d.Application != nil {
		extra = append(extra, amf.Property{Key: "application", Value: d.Application})
	}
	c.log.Info("connect rejected by the application", zap.String("description", desc), zap.String("redirect", d.Redirect))
	if err := c.reject(txn, protocol.ConnectRejected, desc, extra...); err != nil {
		c.tr.Close(err)
	}
}

// callApp hands a command the core does not know to the application as a
// NetConnection.call of a client method. The reply comes from the script's
// goroutine: _result with the return value, or _error with
// NetConnection.Call.Failed. A call without a transaction ID gets no reply.
func (c *Conn) callApp(cmd *protocol.Command) {
	txn, name := cmd.TxnID, cmd.Name
	c.inst.Call(c, name, cmd.Args, func(result any, err error) {
		if txn == 0 {
			if err != nil {
				c.log.Debug("call without reply failed", zap.String("method", name), zap.Error(err))
			}
			return
		}
		var serr error
		if err != nil {
			desc := fmt.Sprintf("Method not found (%s).", name)
			if !errors.Is(err, apps.ErrMethodNotFound) {
				desc = fmt.Sprintf("Method %s failed: %v", name, err)
			}
			serr = c.sendCommand(0, "_error", txn, nil, protocol.StatusObject(protocol.LevelError, protocol.CallFailed, desc))
		} else {
			serr = c.reply(txn, nil, result)
		}
		if serr != nil {
			c.log.Warn("cannot send a call reply", zap.String("method", name), zap.Error(serr))
			c.tr.Close(serr)
		}
	})
}
