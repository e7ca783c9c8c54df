package apps

import "time"

// Client is an instance's view of a connected client.
type Client interface {
	ID() string
	Protocol() string
	// Info is a snapshot for monitoring and for the script's Client object.
	Info() ClientInfo
	// Disconnect tells the client why (a NetConnection.Connect.* code) and
	// closes its connection. Safe from any goroutine.
	Disconnect(code, description string, cause error)
	// Call invokes method on the client (an AMS Client.call). With a
	// non-nil result, the client's _result or _error reaches result, once,
	// from the connection's goroutine; err is then a *CallError for an
	// _error, or another error when the connection closed first. With a
	// nil result no reply is asked for (broadcastMsg). Safe from any
	// goroutine; it never blocks.
	Call(method string, args []any, result func(value any, err error)) error
}

// ClientInfo describes a connected client.
type ClientInfo struct {
	ID         string
	Protocol   string // "rtmp", "rtmfp"
	RemoteAddr string
	Agent      string // flashVer from connect
	App        string // "app/instance"
	Since      time.Time
	BytesIn    uint64
	BytesOut   uint64
	RTT        time.Duration // RTMFP's smoothed RTT; 0 where the transport has none
	// From the connect command: the SWF URL (AMS Client.referrer), the
	// page URL and the tcUrl the client used (Client.uri).
	Referrer string
	PageURL  string
	URI      string
	// FarID is the RTMFP peer ID (hex), empty for RTMP.
	FarID string
}

// CallError is a client's _error reply to a server call; Info is the
// information object it sent.
type CallError struct {
	Info any
}

func (e *CallError) Error() string { return "apps: client answered _error" }

// Decision is the outcome of a connect.
type Decision struct {
	Accept bool
	// Description is the rejection's description.
	Description string
	// Application is the value the script passed to rejectConnection (or
	// redirectConnection); clients see it as info.application.
	Application any
	// Redirect, when set, makes the rejection an AMS redirect: the info
	// object carries ex.code 302 and ex.redirect.
	Redirect string
}

// Hooks is an instance's application logic: the script, when the
// application has one. No method blocks its caller for the script's sake;
// every method may be called from any goroutine, also after Stop (calls are
// then refused or ignored).
type Hooks interface {
	// Connect asks whether to accept c; args are the connect command's
	// extra arguments. decide is called exactly once, now or later (a
	// script may leave a connect pending), from any goroutine.
	Connect(c Client, args []any, decide func(Decision))
	// Disconnect reports that a client has gone whose connect was
	// accepted or is still pending (onDisconnect runs only for the former).
	Disconnect(c Client)
	// Publish and Unpublish report a client's publishing of a stream.
	Publish(c Client, stream string)
	Unpublish(c Client, stream string)
	// Call runs a client-callable method (NetConnection.call). reply is
	// called exactly once; ErrMethodNotFound when there is no such method,
	// another error when the method failed.
	Call(c Client, method string, args []any, reply func(result any, err error))
	// Stop ends the logic (onAppStop) and waits until it has stopped.
	Stop()
}

// Engine starts the logic of an application instance. Start returns nil
// Hooks when the application has no script; a non-nil error means the
// script could not be loaded, and the instance refuses connections.
type Engine interface {
	Start(inst *Instance) (Hooks, error)
}

// defaultHooks is the logic of an application without a script: accept
// everyone, define no methods.
type defaultHooks struct{}

func (defaultHooks) Connect(_ Client, _ []any, decide func(Decision)) { decide(Decision{Accept: true}) }
func (defaultHooks) Disconnect(Client)                                {}
func (defaultHooks) Publish(Client, string)                           {}
func (defaultHooks) Unpublish(Client, string)                         {}
func (defaultHooks) Stop()                                            {}
func (defaultHooks) Call(_ Client, _ string, _ []any, reply func(any, error)) {
	reply(nil, ErrMethodNotFound)
}
