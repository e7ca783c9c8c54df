// Package apps holds applications and their instances: which application
// names the server accepts, the per-instance stream registry, and the clients
// connected to each instance. An instance ("app/instance", default
// "_definst_") is created on the first connect that names it, as in AMS.
package apps
