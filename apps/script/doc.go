// Package script runs an application's Server-Side ActionScript-style
// JavaScript (main.js, or main.asc as in AMS) with goja, one runtime per
// application instance.
//
// The host objects follow the AMS SSAS reference (reference
// ams-behaviour.md §6): application (onAppStart, onAppStop, onConnect,
// onDisconnect, onPublish, onUnpublish, acceptConnection, rejectConnection,
// redirectConnection, broadcastMsg, disconnect, clients, name), Client (id,
// ip, agent, referrer, pageUrl, uri, protocol, farID, call,
// setBandwidthLimit, getBandwidthLimit, ping, getStats, and any method the
// script adds to a client or to Client.prototype, which players call with
// NetConnection.call), SharedObject.get, Stream.get (play, send, record,
// onStatus), Stream.length, application.onStatus (for recording errors a
// Stream does not handle), trace, load, setInterval, setTimeout,
// clearInterval and clearTimeout.
//
// Server-side streams. Stream.get(name).play(item, start, len, reset)
// makes name a stream the server publishes (playlist.go): its items, live
// streams of the instance or recorded FLV/MP4 files (read through
// media/vod, opened by Config.Recordings as clients' plays open them),
// play one after another on one goroutine per stream, in real time, with
// each item's timestamps rebased after the one before, so that the
// stream's players see a single live stream — AMS's server-side
// playlists. start and len are seconds, as in AMS's Server-Side
// ActionScript (clients send milliseconds on the wire). Statuses
// (NetStream.Play.Reset, Start, Switch, Complete, Stop, StreamNotFound,
// Failed, details naming the item) go to the Stream's onStatus; the
// goroutine ends with play(false), a takeover of the name, and the
// script's stop (instance unloaded, script reloaded). A
// remoteConnection (pulling from another server) throws an Error: there
// is no server-side NetConnection yet.
//
// Threading follows AMS's single-threaded script model (§6.7): goja
// runtimes are not safe for concurrent use, so each instance's runtime is
// owned by one goroutine that takes events (connects, calls, publishes,
// SharedObject syncs, timers, client replies) from a bounded queue. The
// NetConnection layer never waits for the script: an event that does not fit
// in the queue is refused (a connect is rejected, a call gets _error), and
// decisions and results go back through callbacks.
//
// A handler that runs longer than Config.Timeout is interrupted with
// goja's Runtime.Interrupt and the error is logged; an exception, thrown or
// from the host, is logged and never reaches the server. A connect whose
// onConnect failed is rejected; one left pending longer than
// Config.PendingTimeout is rejected too, so a forgetful script cannot hold
// sockets open forever.
package script
