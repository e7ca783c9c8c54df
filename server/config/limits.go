package config

// LimitsConfig bounds what clients may take from the server.
type LimitsConfig struct {
	// MaxConnections bounds connections over all listeners.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP bounds connections from one address.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// HandshakesPerIPPerSecond bounds how fast one address may start
	// connections (a token bucket with a burst of the same size).
	HandshakesPerIPPerSecond int `toml:"handshakes_per_ip_per_second"`
	// StreamsPerInstance bounds the streams of one application instance.
	StreamsPerInstance int `toml:"streams_per_instance"`
	// PublishersPerConnection bounds the streams one client publishes.
	PublishersPerConnection int `toml:"publishers_per_connection"`
	// AMFDepth and AMFElements bound each command a client sends: nesting
	// depth, and values in all.
	AMFDepth    int `toml:"amf_depth"`
	AMFElements int `toml:"amf_elements"`
	// SharedObjectSlots and SharedObjectBytes bound each remote
	// SharedObject: slots, and the encoded size of what clients wrote.
	SharedObjectSlots int `toml:"shared_object_slots"`
	SharedObjectBytes int `toml:"shared_object_bytes"`
}
