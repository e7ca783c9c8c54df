package egress

import (
	"io"
	"syscall"
	"testing"
	"time"
)

// TestCloseWhileLent: a socket closed while a batch holds its descriptor
// stays open until the loan is returned, so that the number cannot be
// reused meanwhile; then it closes. A closed socket is not lent.
func TestCloseWhileLent(t *testing.T) {
	s, peer := tcpPair(t)
	sock := NewSocket(s)
	if !sock.Direct() {
		t.Skip("no direct writes on this platform")
	}
	loan, ok := sock.FD().Lend()
	if !ok {
		t.Fatal("an open socket was not lent")
	}
	if err := sock.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := syscall.Write(int(loan.FD()), []byte("still open")); err != nil || n != 10 {
		t.Fatalf("write to the lent socket after Close: %d, %v", n, err)
	}
	loan.Return()
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil || string(got) != "still open" {
		t.Fatalf("peer read %q, %v; want the write, then EOF", got, err)
	}
	if _, ok := sock.FD().Lend(); ok {
		t.Error("a closed socket was lent")
	}
}
