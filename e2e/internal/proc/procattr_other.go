//go:build !linux

package proc

import "syscall"

// sysProcAttr puts the child in its own process group, so Stop reaches
// everything it spawned.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
