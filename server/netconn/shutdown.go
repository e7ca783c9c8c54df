package netconn

import (
	"errors"

	"github.com/nimbus-media/nimbus/protocol"
)

// ErrShutdown is the close reason of connections the server shuts down.
var ErrShutdown = errors.New("server shutting down")

// Shutdown sends a connected client NetConnection.Connect.AppShutdown
// (the transport closes after that is sent); a connection that never
// connected is closed at once with closeNow, since there is no one to
// tell.
func (c *Conn) Shutdown(closeNow func(error)) {
	if c.Instance() == nil {
		closeNow(ErrShutdown)
		return
	}
	c.Disconnect(protocol.ConnectAppShutdown, "The server is shutting down.", ErrShutdown)
}
