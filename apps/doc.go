// Package apps is the AMS application model: which applications the server
// serves, their instances, the clients connected to each instance, remote
// SharedObjects, and the hooks through which an application's script (or,
// without one, the built-in defaults) takes part in every connect, call,
// publish and disconnect.
//
// Applications live in an applications directory: every folder in it is an
// application, optionally with a main.js (or main.asc) that the script
// engine runs, as AMS runs main.asc (AMS SSAS Language Reference,
// "Application class"). Applications named in the configuration are served
// even without a folder. An instance ("app/instance", default "_definst_")
// is created on the first connect that names it and unloaded after it has
// had no clients for Config.IdleTimeout. Registry.Run polls the folders'
// script files and reloads an application whose files changed; Reload and
// Unload do the same on request. Unloading tells clients
// NetConnection.Connect.AppShutdown, stops the script and closes the
// instance's SharedObjects.
//
// Layering: the package knows nothing of transports or wire formats. The
// NetConnection layer (server/netconn) implements Client and
// SharedObjectSubscriber and calls into an Instance; an Instance calls the
// Hooks an Engine (apps/script) started for it. Hooks never block their
// caller: decisions and results come back through callbacks, possibly from
// the script's goroutine.
//
// SharedObjects follow the AMS model (reference ams-behaviour.md §5): each
// has a version that increases with every change and is carried in every
// message; a subscriber gets UseSuccess, Clear and the full state on Use;
// a requester's change is acknowledged with Success and announced to the
// others with Change. Persistent SharedObjects are written to
// <app folder>/sharedobjects/<instance>/ before the change is acknowledged,
// through a temporary file and a rename, so an acknowledged change survives
// a restart.
package apps
