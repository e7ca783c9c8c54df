//go:build !linux

package server

// poller parks quiet connections' readers on Linux (rtmp_poller_linux.go);
// elsewhere every connection keeps its reader goroutine.
type poller struct{}

func newPoller() (*poller, error) { return nil, nil }

func (p *poller) park(*rtmpConn) bool { return false }
func (p *poller) wake(*rtmpConn)      {}
func (p *poller) stop() error         { return nil }
