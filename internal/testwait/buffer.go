package testwait

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that one goroutine (a command, a logger, a
// child's output pipe) may write while the test reads it, typically in an
// Until condition. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
