package server

import (
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// shutdownCore sends a connected client NetConnection.Connect.AppShutdown
// (it closes after that is sent); a connection that never connected is
// closed at once, since there is no one to tell.
func shutdownCore(core *netconn.Conn, closeNow func(error)) {
	if core.Instance() == nil {
		closeNow(errShutdown)
		return
	}
	core.Disconnect(protocol.ConnectAppShutdown, "The server is shutting down.", errShutdown)
}
