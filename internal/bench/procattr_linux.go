package bench

import "syscall"

// childAttr makes a child process die with the harness: a bench killed
// or crashed leaves no server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
