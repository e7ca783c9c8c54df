//go:build !linux

package server

// directWrites: elsewhere every write goes through the net package.
const directWrites = false

// iovBatch is the buffers one writev takes where there are direct writes.
const iovBatch = 64

func (s *rtmpSocket) writev([][]byte) (int, error) {
	panic("server: no direct writes on this platform")
}

func (s *rtmpSocket) read([]byte) (int, error) {
	panic("server: no direct reads on this platform")
}

func (s *rtmpSocket) readControl(uintptr) bool { return true }

func (s *rtmpSocket) queuedInputControl(uintptr) {}

func socketInq(uintptr) int { return 0 }

func (s *rtmpSocket) writevControl(uintptr) {}
