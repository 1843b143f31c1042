package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// GroupGone waits up to 5 s for every process of group pgid to end and
// says which are left (zombies excepted). Off Linux (no /proc) it reports
// nothing.
func GroupGone(pgid int) error {
	var left []string
	for range 50 {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return nil
		}
		left = nil
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// Fields after the parenthesised command: state ppid pgrp ...
			fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
			if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
				left = append(left, e.Name())
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes %s of group %d still running 5 s after Stop", strings.Join(left, ", "), pgid)
}

// Naming lists the live processes (zombies excepted) whose command line
// contains s, e.g. a test's temp dir that every process it started was given
// a path in; empty off Linux.
func Naming(s string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	var found []string
	for _, e := range entries {
		if e.Name() == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(fields) > 0 && fields[0] == "Z" {
			continue
		}
		found = append(found, e.Name()+" "+strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "))
	}
	return found
}
