package datalock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestSecondLockFailsAtOnceNamingTheHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()

	second, err := Acquire(dir)
	if err == nil {
		second.Release()
		t.Fatal("a second lock on the same data dir was granted")
	}
	var held *HeldError
	if !errors.Is(err, ErrHeld) || !errors.As(err, &held) {
		t.Fatalf("second lock: %v; want ErrHeld", err)
	}
	if held.PID != os.Getpid() || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v (pid %d); want the holder's pid %d", err, held.PID, os.Getpid())
	}
}

func TestReleasedLockCanBeTakenAgain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 3 {
		l, err := Acquire(dir)
		if err != nil {
			t.Fatalf("lock %d after releasing the previous one: %v", i, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNamedLocksOfOneDirAreIndependent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	whole, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Release()
	cdc, err := AcquireFile(dir, "cdc.lock")
	if err != nil {
		t.Fatalf("a named lock beside the data dir's: %v", err)
	}
	defer cdc.Release()
	writer, err := AcquireFile(dir, "warehouse.lock")
	if err != nil {
		t.Fatalf("a second named lock: %v", err)
	}
	defer writer.Release()

	again, err := AcquireFile(dir, "cdc.lock")
	if err == nil {
		again.Release()
		t.Fatal("the same named lock was granted twice")
	}
	var held *HeldError
	if !errors.As(err, &held) || held.File != "cdc.lock" || !strings.Contains(err.Error(), "cdc.lock") {
		t.Fatalf("second cdc lock: %v; want a HeldError naming cdc.lock", err)
	}
}
