// Package datalock keeps two twin processes off one data dir: the
// JetStream store, the SQLite warehouse and the vector store each assume a
// single writer, and a second one silently corrupts or rebuilds them.
package datalock

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileName is the lock file in the data dir. It holds the pid of the
// holder, for the message of whoever is refused.
const FileName = "twin.lock"

// ErrHeld matches the error of Acquire when another process holds the
// lock; errors.As finds the *HeldError with its pid.
var ErrHeld = errors.New("data dir is in use")

// HeldError says who holds the lock.
type HeldError struct {
	Dir  string
	File string // the lock file's name in Dir
	PID  int    // 0 when the holder had not written it yet
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data dir %s is in use by %s: stop it, or give this one another --data (lock file %s)",
		e.Dir, who, filepath.Join(e.Dir, cmp.Or(e.File, FileName)))
}

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is an exclusive lock on a data dir, held until Release or until
// the process ends: the kernel drops it with the process, so a crash
// never leaves a stale lock behind.
type Lock struct {
	f *os.File
}

// Acquire takes the lock on dir (created if missing) without waiting: a
// held lock fails at once with a *HeldError.
func Acquire(dir string) (*Lock, error) { return AcquireFile(dir, FileName) }

// AcquireFile is Acquire on the lock file name in dir instead of
// FileName: a lock on one thing of the data dir (one store's owner), that
// processes holding other such locks of the same dir do not conflict with.
func AcquireFile(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir %s: %w", dir, err)
	}
	if held {
		pid := holderPID(f)
		f.Close()
		return nil, &HeldError{Dir: dir, File: name, PID: pid}
	}
	// The pid is only for messages: the lock itself is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// holderPID reads the holder's pid, waiting a moment for a holder that
// has locked but not written it yet.
func holderPID(f *os.File) int {
	for range 20 {
		buf := make([]byte, 32)
		n, _ := f.ReadAt(buf, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// Release drops the lock. The file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
