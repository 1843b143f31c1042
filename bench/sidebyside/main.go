// Command sidebyside times shell commands alternately (A, B, A, B, ...) so
// both see the same machine load, and prints the median wall time, the
// median peak memory and each command's ratio to the first (the baseline).
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
	rss  int64 // KiB, the largest process of the command
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
	for range *runs {
		for i, c := range cmds {
			cmd := exec.Command("bash", "-c", c.shell)
			cmd.Stdout, cmd.Stderr = nil, os.Stderr
			start := time.Now()
			err := cmd.Run()
			wall := time.Since(start)
			if err != nil && !isFindings(err) {
				fmt.Fprintf(os.Stderr, "sidebyside: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			var rss int64
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = ru.Maxrss
			}
			samples[i] = append(samples[i], sample{wall, rss})
		}
	}
	base := median(samples[0], func(s sample) float64 { return s.wall.Seconds() })
	fmt.Printf("| command | median | ratio to %s | peak RSS |\n|---|---:|---:|---:|\n", cmds[0].name)
	for i, c := range cmds {
		m := median(samples[i], func(s sample) float64 { return s.wall.Seconds() })
		rss := median(samples[i], func(s sample) float64 { return float64(s.rss) })
		fmt.Printf("| %s | %.3f s | %.2fx | %.0f MiB |\n", c.name, m, m/base, rss/1024)
	}
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
