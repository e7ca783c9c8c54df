// Package web is Nimbus's administration server: the operator's dashboard,
// a JSON API with live updates, the AMS-compatible administration API,
// Prometheus metrics and pprof, all on one HTTP listener run by
// `nimbus serve`.
//
// # Data flow
//
// The package never imports the server. It reads and steers the running
// server through Backend, a small interface returning snapshots (DTOs in
// this package, filled from apps and media) and performing actions; the
// server implements it over its application registry. Server also
// implements apps.Events, so connections and publications are reported to
// it as they happen. Those callbacks only queue (a bounded channel, dropped
// when full), because they run on connection goroutines with registry
// locks held.
//
// One pump goroutine turns the queue and a one-second ticker into
// messages: each event or stats snapshot is encoded to JSON once and the
// same bytes are queued for every connected dashboard. Each dashboard's
// WebSocket (RFC 6455) has a bounded queue and its own writer with a write
// deadline; a dashboard whose queue is full when a message arrives is
// disconnected, so a stalled browser costs at most its queue and never
// delays the pump, the other dashboards or the media path.
//
// # Authentication
//
// Credentials come from the [http] configuration: a user with a
// PBKDF2-HMAC-SHA256 password hash (RFC 8018 §5.2) and/or the SHA-256 of a
// bearer token. The dashboard logs in with a form and gets an HttpOnly,
// SameSite=Strict session cookie; its actions must also carry the session's
// CSRF token in a header that foreign pages cannot set. Scripts use HTTP
// basic auth or the bearer token, which browsers do not attach on their
// own. Without credentials the server is open, so it may only listen on
// loopback (CheckListen) and then still refuses foreign Host names (DNS
// rebinding) and cross-origin actions.
//
// # AMS administration API
//
// /admin/<method>?auser=&apswd= answers the methods AMS admin tools use
// most with the XML documents of AMS's administration server
// (ams-behaviour.md §8.1: <result> with level, code, timestamp and data,
// arrays as _0, _1, ...).
//
// # Recordings
//
// Recording a live stream, listing the streams folders and opening a file
// are Backend actions, so the server decides which file a stream goes to;
// this package serves downloads with http.ServeContent (ranges, for
// resumed downloads and seeking players) and refuses names with .. or
// absolute ones before the backend opens the rest through os.Root.
//
// Remote shared objects and RTMFP NetGroups have their place in the API
// (Backend.SharedObjects, Backend.NetGroups) and are listed as their
// implementations report them.
package web
