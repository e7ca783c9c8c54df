package web

import (
	"os"
	"time"
)

// Backend is what the admin server reads and steers. The server package
// implements it over its application registry; web never imports the
// server, so the dependency points one way and tests can fake it.
//
// Snapshot methods are called from HTTP handlers and once per stats tick;
// they must be safe for concurrent use and should not block on a
// connection's I/O. Actions return an error wrapping ErrNotFound when the
// named object does not exist, ErrConflict when its state forbids the
// action.
type Backend interface {
	// Listeners are the bound listen addresses by protocol.
	Listeners() []Listener
	// Apps lists the applications and their running instances.
	Apps() []AppInfo
	// Clients lists the connected clients of every instance.
	Clients() []ClientInfo
	// Streams lists the live streams of every instance.
	Streams() []StreamInfo
	// SharedObjects lists the remote shared objects that clients (over
	// RTMP or RTMFP) or application scripts have opened in every instance.
	SharedObjects() []SharedObjectInfo
	// NetGroups lists the RTMFP NetGroups the server bootstraps with their
	// member counts. Groups are scoped per application instance, so the
	// same groupspec in two instances is listed twice.
	NetGroups() []NetGroupInfo
	// Refusals counts the clients each limit has refused, by limit name.
	Refusals() map[string]uint64

	// DisconnectClient closes the client's connection, telling it why.
	DisconnectClient(id string) error
	// StopStream ends the stream's publisher (a kick); players stay
	// subscribed and are told the stream was unpublished.
	StopStream(app, instance, name string) error
	// ReloadApp unloads and restarts an application instance; instance ""
	// means every instance of the application.
	ReloadApp(app, instance string) error
	// UnloadApp disconnects an instance's clients with
	// NetConnection.Connect.AppShutdown; instance "" means every instance.
	UnloadApp(app, instance string) error

	// StartRecording records a live stream to its file in the instance's
	// streams folder, as publish(name, "record") would (appendMode: as
	// "append"), until StopRecording or the publisher stops. No such live
	// stream is ErrNotFound; a file being recorded already, or a stream
	// that cannot be recorded (its name, no apps_dir), ErrConflict.
	StartRecording(app, instance, name string, appendMode bool) error
	// StopRecording ends the stream's recording, however it was started;
	// ErrNotFound when it is not being recorded.
	StopRecording(app, instance, name string) error
	// Recordings lists the files of the streams folders: app "" means
	// every application's, instance "" every instance's of app. An
	// unknown application is ErrNotFound.
	Recordings(app, instance string) ([]RecordingInfo, error)
	// OpenRecording opens a listed file (its Name) for download. A name
	// that leaves the streams folder, through a symbolic link too, or
	// that is not a regular file, is ErrNotFound.
	OpenRecording(app, instance, name string) (*os.File, error)
}

// Listener is one bound listener.
type Listener struct {
	Protocol string `json:"protocol"`
	Addr     string `json:"addr"`
	// TLS: the listener speaks TLS (the playback listener's https:// and
	// wss://), so that the dashboard writes its URLs right.
	TLS bool `json:"tls,omitempty"`
	// Serves lists what the playback listener ("play") serves of
	// http-flv, ws-flv, hls and webrtc, which are switched separately.
	Serves []string `json:"serves,omitempty"`
}

// AppInfo describes an application.
type AppInfo struct {
	Name      string         `json:"name"`
	Instances []InstanceInfo `json:"instances"`
	Clients   int            `json:"clients"`
	Streams   int            `json:"streams"`
}

// InstanceInfo describes one running instance of an application.
type InstanceInfo struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"` // "app/instance"
	Since   time.Time `json:"since"`
	Clients int       `json:"clients"`
	Streams int       `json:"streams"`
}

// ClientInfo describes a connected client.
type ClientInfo struct {
	ID       string    `json:"id"`
	Protocol string    `json:"protocol"`
	Address  string    `json:"address"`
	Agent    string    `json:"agent"`
	App      string    `json:"app"` // "app/instance"
	Since    time.Time `json:"since"`
	BytesIn  uint64    `json:"bytesIn"`
	BytesOut uint64    `json:"bytesOut"`
	// RTTMillis is RTMFP's smoothed round-trip time; zero for transports
	// without one.
	RTTMillis float64 `json:"rttMs,omitempty"`
}

// StreamInfo describes a live stream.
type StreamInfo struct {
	App       string    `json:"app"`
	Instance  string    `json:"instance"`
	Name      string    `json:"name"`
	Published bool      `json:"published"`
	Since     time.Time `json:"since"`
	// Publisher is the publishing client's ID, "" when unknown or idle.
	Publisher         string `json:"publisher"`
	PublisherProtocol string `json:"publisherProtocol,omitempty"`
	PublisherAddress  string `json:"publisherAddress,omitempty"`

	VideoCodec string  `json:"videoCodec"`
	AudioCodec string  `json:"audioCodec"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FrameRate  float64 `json:"frameRate"`
	// Bitrates are bits per second over the last seconds.
	Bitrate      float64 `json:"bitrate"`
	VideoBitrate float64 `json:"videoBitrate"`
	AudioBitrate float64 `json:"audioBitrate"`
	// KeyframeInterval is in seconds.
	KeyframeInterval float64 `json:"keyframeInterval"`

	Subscribers           int            `json:"subscribers"`
	SubscribersByProtocol map[string]int `json:"subscribersByProtocol"`
	BytesIn               uint64         `json:"bytesIn"`
	FramesIn              uint64         `json:"framesIn"`
	// FramesPerWrite is how many frames a player gets per write: more than
	// one while the stream's writes are merged (media.merge_above).
	FramesPerWrite int `json:"framesPerWrite"`
	// Recording: the stream is being written to its file now.
	Recording bool `json:"recording"`
}

// RecordingInfo describes a file of an instance's streams folder.
type RecordingInfo struct {
	App      string `json:"app"`
	Instance string `json:"instance"`
	// Name is the path inside the streams folder, slash-separated.
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Duration is the media's in seconds; 0 for files that are not FLV.
	Duration float64   `json:"duration"`
	Modified time.Time `json:"modified"`
	// Recording: a recorder writes the file now.
	Recording bool `json:"recording"`
}

// SharedObjectInfo describes a remote shared object.
type SharedObjectInfo struct {
	App         string `json:"app"`
	Instance    string `json:"instance"`
	Name        string `json:"name"`
	Persistent  bool   `json:"persistent"`
	Version     uint32 `json:"version"`
	Slots       int    `json:"slots"`
	Subscribers int    `json:"subscribers"`
}

// NetGroupInfo describes an RTMFP NetGroup of one application instance.
type NetGroupInfo struct {
	App      string `json:"app"`
	Instance string `json:"instance"`
	ID       string `json:"id"`
	Members  int    `json:"members"`
}
