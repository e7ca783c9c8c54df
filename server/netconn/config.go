package netconn

import (
	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/media"
)

// Config tunes the NetConnection layer.
type Config struct {
	// FMSVer is reported in the connect _result, as AMS does.
	FMSVer string
	// Capabilities is the connect _result's capabilities value.
	Capabilities float64
	// MaxStreams bounds createStream per connection.
	MaxStreams int
	// MaxOutboxBytes bounds the queued command replies per connection.
	MaxOutboxBytes int
	// MaxPublishers bounds the streams one connection publishes at once.
	MaxPublishers int
	// MaxAMFDepth and MaxAMFElements bound each decoded command (nesting
	// depth and values in all); 0 takes the amf package defaults.
	MaxAMFDepth, MaxAMFElements int
	// Refused, if set, counts a client refused by a limit (for metrics):
	// "streams_per_instance", "publishers_per_connection", "amf",
	// "shared_object", "subscriber_queue".
	Refused func(limit string)
	// Subscriber bounds each playing stream's queue.
	Subscriber media.SubscriberConfig
	// SampleAccess is what |RtmpSampleAccess grants players (raw access
	// to audio and video data from ActionScript).
	SampleAccess bool
	// ServerVersion goes into the connect _result's data.version.
	ServerVersion string
	// Auth authorizes connect, publish and play; nil allows everything.
	Auth *auth.Manager
	// AppsDir is the applications directory: recorded streams live in
	// <AppsDir>/<app>/streams/<instance>/ (AMS's layout). Empty, nothing
	// is recorded or played from files.
	AppsDir string
	// RecordAll names the applications that record every published
	// stream (config record = "all"), as nginx-rtmp's record all.
	RecordAll map[string]bool

	defaulted bool // WithDefaults filled the zero fields
}

// WithDefaults returns c with its zero fields set to the defaults.
// NewConn shares a Config that went through it, rather than giving each
// of a server's thousands of connections a copy.
func (c Config) WithDefaults() Config {
	if c.FMSVer == "" {
		c.FMSVer = "FMS/5,0,17,5001"
	}
	if c.Capabilities == 0 {
		c.Capabilities = 255
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 32
	}
	if c.MaxPublishers <= 0 {
		c.MaxPublishers = 4
	}
	if c.MaxOutboxBytes <= 0 {
		c.MaxOutboxBytes = 1 << 20
	}
	c.defaulted = true
	return c
}
