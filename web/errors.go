package web

import "errors"

// Sentinel errors. Backend implementations wrap ErrNotFound and ErrConflict
// so that the API answers 404 and 409; the others describe configuration and authentication faults.
var (
	// ErrNotFound: the client, stream, application or instance named by a
	// request does not exist.
	ErrNotFound = errors.New("web: not found")
	// ErrConflict: the named object's state forbids the action (a stream
	// being recorded already, or one that cannot be recorded).
	ErrConflict = errors.New("web: conflict")
	// ErrInsecureListen: a non-loopback listen address without credentials
	// would hand the server to anyone who can reach the port.
	ErrInsecureListen = errors.New("web: refusing to listen on a non-loopback address without admin credentials")
	// ErrBadHash: a password hash is not in the format HashPassword writes.
	ErrBadHash = errors.New("web: malformed password hash")
	// ErrBadToken: a token hash is not 64 hexadecimal digits.
	ErrBadToken = errors.New("web: malformed token hash (want the hex SHA-256 of the token)")
	// ErrUserWithoutPassword: a user is configured without a password hash,
	// or the reverse.
	ErrUserWithoutPassword = errors.New("web: user and password_hash must be set together")
)
