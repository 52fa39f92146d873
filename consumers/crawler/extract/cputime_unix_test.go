//go:build unix

package extract

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system: a
// measure of work that, unlike wall time, does not grow when other
// programs share the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
