package protocol

import "github.com/nimbus-media/nimbus/amf"

// Status levels of an info object.
const (
	LevelStatus  = "status"
	LevelWarning = "warning"
	LevelError   = "error"
)

// Status codes the server sends (AMS names; see reference/ams-behaviour.md §3.7).
const (
	ConnectSuccess         = "NetConnection.Connect.Success"
	ConnectRejected        = "NetConnection.Connect.Rejected"
	ConnectInvalidApp      = "NetConnection.Connect.InvalidApp"
	ConnectClosed          = "NetConnection.Connect.Closed"
	ConnectAppShutdown     = "NetConnection.Connect.AppShutdown"
	ConnectIdleTimeOut     = "NetConnection.Connect.IdleTimeOut"
	CallFailed             = "NetConnection.Call.Failed"
	PublishStart           = "NetStream.Publish.Start"
	PublishBadName         = "NetStream.Publish.BadName"
	UnpublishSuccess       = "NetStream.Unpublish.Success"
	PlayReset              = "NetStream.Play.Reset"
	PlayStart              = "NetStream.Play.Start"
	PlayStop               = "NetStream.Play.Stop"
	PlayFailed             = "NetStream.Play.Failed"
	PlayStreamNotFound     = "NetStream.Play.StreamNotFound"
	PlayPublishNotify      = "NetStream.Play.PublishNotify"
	PlayUnpublishNotify    = "NetStream.Play.UnpublishNotify"
	PlayTransition         = "NetStream.Play.Transition"
	PlayTransitionComplete = "NetStream.Play.TransitionComplete"
	PlayInsufficientBW     = "NetStream.Play.InsufficientBW"
	PlaySwitch             = "NetStream.Play.Switch"   // onPlayStatus: the next playlist item starts
	PlayComplete           = "NetStream.Play.Complete" // onPlayStatus: a recorded stream or playlist ended
	RecordStart            = "NetStream.Record.Start"
	RecordStop             = "NetStream.Record.Stop"
	RecordNoAccess         = "NetStream.Record.NoAccess"
	RecordFailed           = "NetStream.Record.Failed"
	DataStart              = "NetStream.Data.Start"
	PauseNotify            = "NetStream.Pause.Notify"
	UnpauseNotify          = "NetStream.Unpause.Notify"
	SeekNotify             = "NetStream.Seek.Notify"
	SeekFailed             = "NetStream.Seek.Failed"
	StreamFailed           = "NetStream.Failed"
)

// StatusObject builds an info object: level, code, description, then extra
// properties in order.
func StatusObject(level, code, description string, extra ...amf.Property) amf.Object {
	o := make(amf.Object, 0, 3+len(extra))
	o = append(o,
		amf.Property{Key: "level", Value: level},
		amf.Property{Key: "code", Value: code},
		amf.Property{Key: "description", Value: description})
	return append(o, extra...)
}
