// Package nimbus is the root of the Nimbus media server module. It holds the
// default configuration file, embedded so that `nimbus serve` runs without one.
package nimbus

import _ "embed"

// DefaultConfig is config.toml as shipped: the configuration used when no
// -config file is given, and the defaults of every key a file leaves out
// (server/config.Defaults decodes it). This package imports nothing of the
// server's, so that the server can read it.
//
//go:embed config.toml
var DefaultConfig []byte

// Version is the server version reported to clients and operators.
const Version = "0.1.0"
