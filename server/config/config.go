// Package config is the server's configuration: the sections of
// config.toml, their defaults (the shipped file, nimbus.DefaultConfig),
// validation and the NIMBUS_ environment overrides.
package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/nimbus-media/nimbus"
	"github.com/nimbus-media/nimbus/web"
)

// Config is the whole server configuration (config.toml).
type Config struct {
	// AppsDir is the applications directory: each folder is an
	// application, with an optional main.js/main.asc script. A relative
	// path is relative to the working directory.
	AppsDir string `toml:"apps_dir"`
	// AppIdleTimeout unloads an application instance without clients.
	AppIdleTimeout Duration `toml:"app_idle_timeout"`
	// AppReloadKeepsClients makes an edited script restart in place,
	// keeping its clients and streams, instead of reloading the
	// application (which disconnects them, as AMS's reloadApp does).
	AppReloadKeepsClients bool `toml:"app_reload_keeps_clients"`
	// ShutdownTimeout bounds how long SIGTERM waits for clients to take
	// their NetConnection.Connect.AppShutdown and go.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	Log     LogConfig     `toml:"log"`
	RTMP    RTMPConfig    `toml:"rtmp"`
	RTMPS   RTMPSConfig   `toml:"rtmps"`
	RTMPT   RTMPTConfig   `toml:"rtmpt"`
	Limits  LimitsConfig  `toml:"limits"`
	RTMFP   RTMFPConfig   `toml:"rtmfp"`
	HTTP    HTTPConfig    `toml:"http"`
	Play    PlayConfig    `toml:"play"`
	WebRTC  WebRTCConfig  `toml:"webrtc"`
	Media   MediaConfig   `toml:"media"`
	NetConn NetConnConfig `toml:"netconn"`
	Auth    AuthConfig    `toml:"auth"`
	Script  ScriptConfig  `toml:"scripting"`
	Apps    []AppConfig   `toml:"app"`
}

// ScriptConfig tunes application scripts (package apps/script).
type ScriptConfig struct {
	// Timeout interrupts a handler that runs longer.
	Timeout Duration `toml:"timeout"`
	// Queue bounds the events waiting for one instance's script.
	Queue int `toml:"queue"`
	// PendingConnectTimeout rejects a connect the script left undecided.
	PendingConnectTimeout Duration `toml:"pending_connect_timeout"`
}

// LogConfig selects log level and format.
type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// RTMPConfig configures the RTMP listener.
type RTMPConfig struct {
	Listen           string   `toml:"listen"`
	ChunkSize        uint32   `toml:"chunk_size"`
	MaxMessageSize   uint32   `toml:"max_message_size"`
	AckWindow        uint32   `toml:"ack_window"`
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	IdleTimeout      Duration `toml:"idle_timeout"`
	PingInterval     Duration `toml:"ping_interval"`
	WriteTimeout     Duration `toml:"write_timeout"`
	// RTMPE accepts the encrypted handshake (C0 = 6 or 8) on this
	// listener, as AMS does on port 1935; off, such clients are refused.
	RTMPE bool `toml:"rtmpe"`
	// Poller lets the reader of a quiet connection give up its goroutine
	// while an epoll poller watches the socket (Linux); off, every
	// connection keeps a reader goroutine, as on other systems.
	Poller bool `toml:"poller"`
}

// RTMPSConfig configures the RTMP-over-TLS listener; it is off while
// Listen is empty. It serves the same applications as RTMP.
type RTMPSConfig struct {
	Listen   string `toml:"listen"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// RTMPTConfig configures the RTMP-over-HTTP listener (docs/rtmpt.md),
// which Flash falls back to behind proxies; it is off while Listen is
// empty. It serves the same applications as RTMP.
type RTMPTConfig struct {
	Listen string `toml:"listen"`
	// IdleTimeout closes a session whose client makes no request for
	// this long; it is also the HTTP read, write and keep-alive timeout.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxSessions caps the open sessions (the limits.* connection caps
	// apply too).
	MaxSessions int `toml:"max_sessions"`
	// BufferBytes bounds what one session holds for its client until
	// the client asks; past it the server waits, as for a full socket,
	// and closes the connection after rtmp.write_timeout.
	BufferBytes int `toml:"buffer_bytes"`
}

// RTMFPConfig configures the RTMFP listener; it is off while Listen is empty.
type RTMFPConfig struct {
	Listen string `toml:"listen"`
	// IdleTimeout closes a session the client stopped answering.
	IdleTimeout Duration `toml:"idle_timeout"`
	// ServerKeepalive and PeerKeepalive are the periods clients are asked
	// to keep their sessions alive with (Set Keepalive Timers).
	ServerKeepalive Duration `toml:"server_keepalive"`
	PeerKeepalive   Duration `toml:"peer_keepalive"`
	// MediaDeadline is how long live audio and video may wait for
	// delivery to a player before they are abandoned.
	MediaDeadline Duration `toml:"media_deadline"`
	// RedirectTo makes this instance a redirector: every handshake is
	// answered with a Redirect to these "host:port" RTMFP servers, which
	// the client tries instead (RFC 7016 §3.5.1.4).
	RedirectTo []string `toml:"redirect_to"`
	// MaxGroupMembers caps the members of one NetGroup and
	// MaxGroupsPerClient the NetGroups one client may join.
	MaxGroupMembers    int `toml:"max_group_members"`
	MaxGroupsPerClient int `toml:"max_groups_per_client"`
}

// HTTPConfig configures the admin HTTP listener (dashboard, JSON and AMS
// admin APIs, metrics). Without credentials it must listen on loopback.
type HTTPConfig struct {
	Listen string `toml:"listen"` // empty: no admin listener
	// User and PasswordHash ("nimbus passwd" prints one) log in to the
	// dashboard and authenticate basic auth and AMS auser/apswd.
	User         string `toml:"user"`
	PasswordHash string `toml:"password_hash"`
	// TokenSHA256 is the hex SHA-256 of a bearer token for scripts
	// ("nimbus passwd -token" makes one).
	TokenSHA256 string   `toml:"token_sha256"`
	SessionTTL  Duration `toml:"session_ttl"` // dashboard login lifetime
	// CertFile and KeyFile (PEM) serve the admin listener over HTTPS.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// Web maps the [http] section onto the admin server's configuration.
func (c HTTPConfig) Web() web.Config {
	return web.Config{
		Listen: c.Listen, User: c.User, PasswordHash: c.PasswordHash, TokenSHA256: c.TokenSHA256,
		SessionTTL: c.SessionTTL.Duration, Version: nimbus.Version, CertFile: c.CertFile, KeyFile: c.KeyFile,
	}
}

// PlayConfig configures the public playback listener (docs/playback.md):
// HTTP-FLV and WebSocket-FLV for players that have no RTMP, browsers
// first. It is off while Listen is empty. Unlike the admin listener it is
// meant to face the internet: what it serves is authorized per
// application, as RTMP plays are.
type PlayConfig struct {
	Listen string `toml:"listen"`
	// CertFile and KeyFile (PEM) serve playback over HTTPS (and wss://).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// CORSOrigin is sent as Access-Control-Allow-Origin, so that players
	// on other origins (flv.js, mpegts.js) may fetch streams; "" sends
	// none, which confines players to pages of the same origin.
	CORSOrigin string `toml:"cors_origin"`
	// HeaderTimeout bounds the reading of a request's header; it is also
	// how long a kept-alive connection may wait for its next request.
	HeaderTimeout Duration `toml:"header_timeout"`
	// WriteTimeout closes a player that takes longer to accept our data.
	WriteTimeout Duration `toml:"write_timeout"`

	// HLS serves /APP/STREAM/index.m3u8 (LL-HLS, fMP4) and
	// /APP/STREAM/ts/index.m3u8 (MPEG-TS) on the same listener.
	HLS bool `toml:"hls"`
	// HLSSegment is a segment's least duration (a segment ends at the
	// first keyframe past it); HLSPart a Low-Latency part's, which sets
	// how far behind live an LL-HLS player can be.
	HLSSegment Duration `toml:"hls_segment"`
	HLSPart    Duration `toml:"hls_part"`
	// HLSSegments is how many segments a playlist lists and memory
	// holds (LL-HLS needs 7); HLSSegmentMaxBytes bounds one, so a
	// stream's muxer holds at most about (HLSSegments+1) times it.
	HLSSegments        int `toml:"hls_segments"`
	HLSSegmentMaxBytes int `toml:"hls_segment_max_bytes"`
	// HLSIdle stops a stream's muxer when no HLS request has come for
	// it this long; the next request starts it again.
	HLSIdle Duration `toml:"hls_idle"`
}

// WebRTCConfig configures WebRTC on the playback listener
// (docs/playback.md, WebRTC): WHEP viewers and WHIP publishers, and the
// ICE transport their media takes, which is not the listener's TCP port.
type WebRTCConfig struct {
	Enabled bool `toml:"enabled"`
	// MaxSessions bounds WHEP viewers and WHIP publishers together: each
	// holds sockets, SRTP state and a retransmission buffer.
	MaxSessions int `toml:"max_sessions"`
	// UDPPortMin and UDPPortMax bound the UDP ports ICE takes, for a
	// firewall to open; both 0 lets the system choose.
	UDPPortMin uint16 `toml:"udp_port_min"`
	UDPPortMax uint16 `toml:"udp_port_max"`
	// IPs are the local addresses offered as host candidates; empty
	// offers every address but loopback.
	IPs []string `toml:"ips"`
	// NAT1To1IPs replace the local addresses in the candidates, for a
	// host that reaches the internet through a 1:1 NAT.
	NAT1To1IPs []string `toml:"nat_1to1_ips"`
	// ICETCPListen serves ICE over TCP on this address (one port shared
	// by every session) for clients whose networks block UDP; "" is off.
	ICETCPListen string `toml:"ice_tcp_listen"`
}

// MediaConfig tunes stream routing.
type MediaConfig struct {
	GOPCache             bool     `toml:"gop_cache"`
	MaxGOPBytes          int      `toml:"max_gop_bytes"`
	SubscriberQueueBytes int      `toml:"subscriber_queue_bytes"`
	SubscriberMaxLag     Duration `toml:"subscriber_max_lag"`
	PublisherTimeout     Duration `toml:"publisher_timeout"`
	AlwaysTakeover       bool     `toml:"always_takeover"`
	// AudioBatch lets audio wait for the next video frame so that players
	// get both in one write (media.Config.AudioBatch).
	AudioBatch Duration `toml:"audio_batch"`
	// MergeWrites trades latency for system calls
	// (media.Config.MergeWrites); off by default.
	MergeWrites Duration `toml:"merge_writes"`
	// MergeAbove merges writes when one stream's fan-out would take more
	// than this share of a core, i.e. of the frame interval on one core
	// (media.Config.MergeAbove); 0 never does.
	MergeAbove   float64 `toml:"merge_above"`
	SampleAccess bool    `toml:"sample_access"`
	// IOURing makes the RTMP writes of a fan-out share in batches, one
	// io_uring_enter per batch instead of a writev per player (Linux;
	// without io_uring the server writes as with it off).
	IOURing bool `toml:"io_uring"`
}

// NetConnConfig tunes the NetConnection layer.
type NetConnConfig struct {
	MaxStreams int    `toml:"max_streams"`
	FMSVersion string `toml:"fms_version"`
}

// AppConfig declares one application and who may use it.
type AppConfig struct {
	Name string `toml:"name"`
	// TokenSecret enables signed, expiring stream-name tokens (see
	// `nimbus token`), for publishing and/or playing.
	TokenSecret  string `toml:"token_secret"`
	TokenPublish bool   `toml:"token_publish"`
	TokenPlay    bool   `toml:"token_play"`
	// Users enables authmod=adobe on every connect to the app.
	Users []UserConfig `toml:"users"`
	// HTTP callbacks (nginx-rtmp on_* convention): 2xx allows.
	OnConnect string `toml:"on_connect"`
	OnPublish string `toml:"on_publish"`
	OnPlay    string `toml:"on_play"`
	OnDone    string `toml:"on_done"`
	// Record is "all" to record every stream published to the app into
	// <apps_dir>/<app>/streams/<instance>/<name>.flv (nginx-rtmp's record
	// all), or "off" (the default): then only publish(name, "record" or
	// "append") records (docs/recording.md).
	Record string `toml:"record"`
}

// UserConfig is one authmod=adobe account.
type UserConfig struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
}

// AuthConfig tunes authorization.
type AuthConfig struct {
	CallbackTimeout Duration `toml:"callback_timeout"`
}

// Duration is a time.Duration written as "10s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseConfig reads a TOML configuration over the defaults, so a file need
// only name what it changes, and validates the result.
func ParseConfig(data []byte) (Config, error) {
	cfg, err := DecodeConfig(data)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// DecodeConfig reads a TOML configuration over the defaults without
// validating it, for callers that apply more overrides (the environment,
// flags) first: a file may be incomplete without them, as one that moves
// http.listen off loopback while the credentials come from the
// environment. Unknown keys are errors: a typo must not silently fall back
// to a default.
func DecodeConfig(data []byte) (Config, error) {
	cfg, err := decodeTOML(Defaults(), data)
	if err != nil {
		return cfg, err
	}
	if !slices.ContainsFunc(cfg.Apps, func(a AppConfig) bool { return a.Name == "live" }) {
		cfg.Apps = append(cfg.Apps, AppConfig{Name: "live"})
	}
	return cfg, nil
}

// decodeTOML decodes data over cfg, refusing keys Config lacks.
func decodeTOML(cfg Config, data []byte) (Config, error) {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var sme *toml.StrictMissingError
		if errors.As(err, &sme) {
			return cfg, fmt.Errorf("config: %s", sme.String())
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Defaults is the configuration used for keys a file leaves out. It is the
// shipped config.toml (nimbus.DefaultConfig), which documents every key
// with its default: deriving the defaults from it rather than restating
// them here keeps the two from drifting apart, and TestDefaultsFile checks
// that the file names every key.
func Defaults() Config {
	cfg, err := decodeTOML(Config{}, nimbus.DefaultConfig)
	if err != nil {
		// The file is compiled in, so this is a build that every test
		// of this package fails, never a user's mistake.
		panic("embedded config.toml: " + err.Error())
	}
	return cfg
}

// Validate checks values that would make the server misbehave, naming the key.
func (c *Config) Validate() error {
	switch {
	case c.RTMP.Listen == "":
		// net.Listen would pick a port at random.
		return errors.New("config: rtmp.listen is empty; RTMP cannot be turned off")
	case c.RTMP.ChunkSize < 128 || c.RTMP.ChunkSize > 65536:
		return fmt.Errorf("config: rtmp.chunk_size %d is outside 128..65536", c.RTMP.ChunkSize)
	case c.RTMP.MaxMessageSize < 4096 || c.RTMP.MaxMessageSize > 0xFFFFFF:
		return fmt.Errorf("config: rtmp.max_message_size %d is outside 4096..16777215", c.RTMP.MaxMessageSize)
	case c.ShutdownTimeout.Duration <= 0:
		return errors.New("config: shutdown_timeout must be positive")
	case c.RTMP.HandshakeTimeout.Duration <= 0, c.RTMP.IdleTimeout.Duration <= 0,
		c.RTMP.PingInterval.Duration <= 0, c.RTMP.WriteTimeout.Duration <= 0:
		return errors.New("config: rtmp timeouts must be positive")
	case c.RTMP.PingInterval.Duration >= c.RTMP.IdleTimeout.Duration:
		return fmt.Errorf("config: rtmp.ping_interval %v must be shorter than rtmp.idle_timeout %v", c.RTMP.PingInterval, c.RTMP.IdleTimeout)
	case c.Media.MergeWrites.Duration < 0 || c.Media.MergeWrites.Duration > time.Second:
		return fmt.Errorf("config: media.merge_writes %v is outside 0..1s", c.Media.MergeWrites)
	case c.Media.MergeAbove < 0 || c.Media.MergeAbove > 64:
		return fmt.Errorf("config: media.merge_above %v is outside 0..64", c.Media.MergeAbove)
	case c.Media.SubscriberQueueBytes < 64<<10:
		return fmt.Errorf("config: media.subscriber_queue_bytes %d is below 65536", c.Media.SubscriberQueueBytes)
	case c.RTMPS.Listen != "" && (c.RTMPS.CertFile == "" || c.RTMPS.KeyFile == ""):
		return errors.New("config: rtmps.listen needs rtmps.cert_file and rtmps.key_file")
	case c.Play.Listen != "" && (c.Play.CertFile == "") != (c.Play.KeyFile == ""):
		return errors.New("config: play.cert_file and play.key_file go together")
	case c.Play.Listen != "" && (c.Play.HeaderTimeout.Duration <= 0 || c.Play.WriteTimeout.Duration <= 0):
		return errors.New("config: play.header_timeout and play.write_timeout must be positive")
	case c.Play.HLS && (c.Play.HLSPart.Duration < 50*time.Millisecond || c.Play.HLSSegment.Duration < c.Play.HLSPart.Duration):
		return fmt.Errorf("config: play.hls_part %v must be at least 50ms and play.hls_segment %v at least as long", c.Play.HLSPart, c.Play.HLSSegment)
	case c.Play.HLS && (c.Play.HLSSegments < 7 || c.Play.HLSSegmentMaxBytes < 1<<20 || c.Play.HLSIdle.Duration < time.Second):
		return errors.New("config: play.hls_segments must be at least 7, play.hls_segment_max_bytes at least 1048576 and play.hls_idle at least 1s")
	case c.WebRTC.Enabled && c.WebRTC.MaxSessions < 1:
		return errors.New("config: webrtc.max_sessions must be at least 1")
	case c.WebRTC.Enabled && c.WebRTC.UDPPortMin > c.WebRTC.UDPPortMax:
		return fmt.Errorf("config: webrtc.udp_port_min %d is above webrtc.udp_port_max %d", c.WebRTC.UDPPortMin, c.WebRTC.UDPPortMax)
	case c.WebRTC.Enabled && c.WebRTC.UDPPortMin == 0 && c.WebRTC.UDPPortMax != 0:
		return errors.New("config: webrtc.udp_port_min and webrtc.udp_port_max are both set or both 0")
	case c.RTMPT.Listen != "" && (c.RTMPT.IdleTimeout.Duration < time.Second || c.RTMPT.MaxSessions < 1 || c.RTMPT.BufferBytes < 64<<10):
		return errors.New("config: rtmpt.idle_timeout must be at least 1s, rtmpt.max_sessions at least 1 and rtmpt.buffer_bytes at least 65536")
	case c.RTMFP.Listen != "" && (c.RTMFP.IdleTimeout.Duration <= 0 || c.RTMFP.MediaDeadline.Duration <= 0 ||
		c.RTMFP.ServerKeepalive.Duration < 5*time.Second || c.RTMFP.PeerKeepalive.Duration < 5*time.Second):
		return errors.New("config: rtmfp timeouts must be positive and keepalives at least 5s")
	case c.RTMFP.Listen != "" && (c.RTMFP.MaxGroupMembers < 1 || c.RTMFP.MaxGroupsPerClient < 1):
		return errors.New("config: rtmfp.max_group_members and rtmfp.max_groups_per_client must be at least 1")
	case c.NetConn.MaxStreams < 1:
		return fmt.Errorf("config: netconn.max_streams %d must be at least 1", c.NetConn.MaxStreams)
	case c.AppIdleTimeout.Duration <= 0:
		return errors.New("config: app_idle_timeout must be positive")
	case c.Script.Timeout.Duration <= 0 || c.Script.PendingConnectTimeout.Duration <= 0:
		return errors.New("config: scripting timeouts must be positive")
	case c.Script.Queue < 1:
		return fmt.Errorf("config: scripting.queue %d must be at least 1", c.Script.Queue)
	}
	for _, a := range c.RTMFP.RedirectTo {
		if _, err := net.ResolveUDPAddr("udp", a); err != nil {
			return fmt.Errorf("config: rtmfp.redirect_to %q: %w", a, err)
		}
	}
	for key, ips := range map[string][]string{"webrtc.ips": c.WebRTC.IPs, "webrtc.nat_1to1_ips": c.WebRTC.NAT1To1IPs} {
		for _, ip := range ips {
			if net.ParseIP(ip) == nil {
				return fmt.Errorf("config: %s: %q is not an IP address", key, ip)
			}
		}
	}
	if c.HTTP.Listen != "" {
		if err := c.HTTP.Web().Validate(); err != nil {
			return fmt.Errorf("config: http: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, a := range c.Apps {
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("config: app name %q is empty or repeated", a.Name)
		}
		seen[a.Name] = true
		if (a.TokenPublish || a.TokenPlay) && a.TokenSecret == "" {
			return fmt.Errorf("config: app %q: token_publish/token_play need token_secret", a.Name)
		}
		if a.Record != "" && a.Record != "off" && a.Record != "all" {
			return fmt.Errorf("config: app %q: record must be \"off\" or \"all\", not %q", a.Name, a.Record)
		}
		for _, u := range a.Users {
			if u.Name == "" || u.Password == "" {
				return fmt.Errorf("config: app %q: every user needs a name and a password", a.Name)
			}
		}
	}
	return nil
}

// configKey is one key of the configuration that holds a value: its
// dotted TOML path and the index path of its field in Config.
type configKey struct {
	path  string
	index []int
}

// configKeys lists Config's value keys from its toml tags, descending
// into tables. Arrays of tables ([[app]]) are left out: their entries are
// lists a file declares, not keys with a default.
func configKeys() []configKey {
	var keys []configKey
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			at := append(slices.Clone(index), i)
			switch {
			case isTable(f.Type):
				walk(f.Type, prefix+name+".", at)
			case f.Type.Kind() == reflect.Slice && isTable(f.Type.Elem()):
				// an array of tables
			default:
				keys = append(keys, configKey{prefix + name, at})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return keys
}

// isTable tells whether TOML writes t as a table rather than a value, as
// it does Duration (a string).
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}
