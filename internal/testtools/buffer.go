package testtools

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for the output goroutines of a process
// (exec.Cmd's Stdout and Stderr) and a test reading it meanwhile.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
