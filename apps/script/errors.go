package script

import "errors"

// Sentinel errors.
var (
	// ErrTimeout is the interrupt value of a handler that ran past
	// Config.Timeout.
	ErrTimeout = errors.New("script: handler ran too long and was interrupted")
	// ErrStopped refuses events for an instance whose script has stopped.
	ErrStopped = errors.New("script: application script is not running")
	// ErrBusy refuses events while the instance's queue is full.
	ErrBusy = errors.New("script: application event queue is full")
	// ErrLoadPath refuses a load() of a file outside the application folder.
	ErrLoadPath = errors.New("script: load path leaves the application folder")
	// ErrTooManyTimers refuses a timer past Config.MaxTimers.
	ErrTooManyTimers = errors.New("script: too many timers")
)
