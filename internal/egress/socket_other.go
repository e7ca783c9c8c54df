//go:build !linux

package egress

// directWrites: elsewhere every write goes through the net package.
const directWrites = false

// iovBatch is the buffers one writev takes where there are direct writes.
const iovBatch = 64

func (s *Socket) writev([][]byte) (int, error) {
	panic("egress: no direct writes on this platform")
}

func (s *Socket) read([]byte) (int, error) {
	panic("egress: no direct reads on this platform")
}

func (s *Socket) readControl(uintptr) bool { return true }

func (s *Socket) queuedInputControl(uintptr) {}

// InputQueued returns 0: this platform cannot tell.
func InputQueued(uintptr) int { return 0 }

func (s *Socket) writevControl(uintptr) {}
