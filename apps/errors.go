package apps

import "errors"

// Sentinel errors.
var (
	// ErrUnknownApp is returned for an application name the server does not serve.
	ErrUnknownApp = errors.New("apps: application is not defined")
	// ErrUnloaded is returned by an instance that has been unloaded; the
	// caller resolves the instance again to get a fresh one.
	ErrUnloaded = errors.New("apps: application instance unloaded")
	// ErrMethodNotFound is the Call error for a method the application
	// does not define (NetConnection.Call.Failed).
	ErrMethodNotFound = errors.New("apps: method not found")
	// ErrBadPersistence means a SharedObject was asked for with a
	// persistence other than the one it exists with.
	ErrBadPersistence = errors.New("apps: shared object exists with another persistence")
	// ErrSharedObjectName is returned for an empty or over-long
	// SharedObject name.
	ErrSharedObjectName = errors.New("apps: bad shared object name")
	// ErrLocked means a client tried to change a SharedObject the
	// application script has locked.
	ErrLocked = errors.New("apps: shared object is locked")
	// ErrStoreCorrupt means a persisted SharedObject file could not be
	// decoded.
	ErrStoreCorrupt = errors.New("apps: shared object file is corrupt")
)
