package rtmpconn

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/nimbus-media/nimbus/server/config"
)

// The built-in RTMPT address (port 80) is optional: no privilege for it,
// or a web server holding it, leaves the server running without RTMPT; an
// address the operator chose, or another error, stops it.
func TestRTMPTOptional(t *testing.T) {
	def := config.Defaults().RTMPT.Listen
	eacces := &net.OpError{Op: "listen", Err: os.NewSyscallError("bind", syscall.EACCES)}
	inuse := &net.OpError{Op: "listen", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	other := &net.OpError{Op: "listen", Err: os.NewSyscallError("bind", syscall.EADDRNOTAVAIL)}
	for _, tt := range []struct {
		addr string
		err  error
		want bool
	}{
		{def, eacces, true},
		{def, inuse, true},
		{def, other, false},
		{"127.0.0.1:8081", eacces, false},
		{"127.0.0.1:8081", inuse, false},
	} {
		if got := RTMPTOptional(tt.addr, tt.err); got != tt.want {
			t.Errorf("RTMPTOptional(%q, %v) = %v, want %v", tt.addr, tt.err, got, tt.want)
		}
	}
}
