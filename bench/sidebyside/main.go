// Command sidebyside times shell commands alternately (A, B, A, B, ...) so
// both see the same machine load, and prints the median wall time, the
// median CPU time (user + system: less moved by the load than the wall),
// the median peak memory, each command's ratio to the first (the baseline)
// and the load average before and after. A command that fails (not exit 1,
// a checker's findings) is reported as failed and not run again.
//
//	sidebyside -runs 7 'cue export=cue export ./envs/prod' 'render=render --check'
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

type sample struct {
	wall time.Duration
	cpu  time.Duration // user + system, the command's waited-for processes included
	rss  int64         // KiB, the largest process of the command
}

func main() {
	runs := flag.Int("runs", 7, "runs of each command")
	flag.Parse()
	type command struct{ name, shell string }
	var cmds []command
	for _, a := range flag.Args() {
		name, shell, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "sidebyside: want NAME=COMMAND, got %q\n", a)
			os.Exit(2)
		}
		cmds = append(cmds, command{name, shell})
	}
	if len(cmds) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sidebyside [-runs N] NAME=COMMAND...")
		os.Exit(2)
	}
	samples := make([][]sample, len(cmds))
	failed := make([]error, len(cmds))
	loadBefore := loadAverage()
	for range *runs {
		for i, c := range cmds {
			if failed[i] != nil {
				continue
			}
			cmd := exec.Command("bash", "-c", c.shell)
			cmd.Stdout, cmd.Stderr = nil, os.Stderr
			start := time.Now()
			err := cmd.Run()
			wall := time.Since(start)
			if err != nil && !isFindings(err) {
				fmt.Fprintf(os.Stderr, "sidebyside: %s: %v (not run again)\n", c.name, err)
				failed[i] = err
				continue
			}
			var rss int64
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = ru.Maxrss
			}
			cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			samples[i] = append(samples[i], sample{wall, cpu, rss})
		}
	}
	fmt.Printf("load average %s before, %s after\n\n", loadBefore, loadAverage())
	wall := func(s sample) float64 { return s.wall.Seconds() }
	cpu := func(s sample) float64 { return s.cpu.Seconds() }
	var base, baseCPU float64
	if len(samples[0]) > 0 {
		base, baseCPU = median(samples[0], wall), median(samples[0], cpu)
	}
	fmt.Printf("| command | median | ratio to %s | CPU | CPU ratio | peak RSS |\n|---|---:|---:|---:|---:|---:|\n", cmds[0].name)
	for i, c := range cmds {
		if len(samples[i]) == 0 {
			fmt.Printf("| %s | failed: %v | | | | |\n", c.name, failed[i])
			continue
		}
		m, mc := median(samples[i], wall), median(samples[i], cpu)
		rss := median(samples[i], func(s sample) float64 { return float64(s.rss) })
		ratio, cpuRatio := "-", "-"
		if base > 0 {
			ratio, cpuRatio = fmt.Sprintf("%.2fx", m/base), fmt.Sprintf("%.2fx", mc/baseCPU)
		}
		note := ""
		if failed[i] != nil {
			note = fmt.Sprintf(" (%d of %d runs; then failed: %v)", len(samples[i]), *runs, failed[i])
		}
		fmt.Printf("| %s%s | %.3f s | %s | %.3f s | %s | %.0f MiB |\n", c.name, note, m, ratio, mc, cpuRatio, rss/1024)
	}
}

// loadAverage is the 1-minute load average, as /proc/loadavg has it.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// isFindings: exit status 1 is a checker's "found something", not a failure.
func isFindings(err error) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && ee.ExitCode() == 1
}

func median(ss []sample, f func(sample) float64) float64 {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}
