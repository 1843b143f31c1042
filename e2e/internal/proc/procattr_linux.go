package proc

import "syscall"

// sysProcAttr puts the child in its own process group (so Stop reaches
// everything it spawned) and has the kernel kill it if the test binary dies
// without running its cleanups (a -timeout panic, a SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
