//go:build !linux

package server

// directWrites: elsewhere every write goes through the net package.
const directWrites = false

func (s *socketWriter) writev([][]byte) (int, error) {
	panic("server: no direct writes on this platform")
}

func (s *socketWriter) queuedInputControl(uintptr) {}

func socketInq(uintptr) int { return 0 }

func (s *socketWriter) writevControl(uintptr) {}
