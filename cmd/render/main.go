// Command render turns envs/ + schema/ into rendered/ and checks the result.
// It stays thin: flags and exit codes here, the work in generator/ and internal/.
//
//	render [--env NAME]... [--check]      render (or verify) rendered/<env>/
//	render <subcommand> [flags]           see usage
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK       = 0
	exitFindings = 1 // check found a deny, or --check found rendered/ stale
	exitBadInput = 2 // bad flags, bad CUE, unparseable YAML, unknown env
)

// subcommand runs with its own arguments and returns the exit code.
type subcommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// subcommands is filled by each command's file in init, so commands can be
// added without touching this one.
var subcommands = map[string]subcommand{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if sc, ok := subcommands[args[0]]; ok {
			return sc.run(args[1:], stdout, stderr)
		}
		if args[0] == "help" {
			usage(stdout)
			return exitOK
		}
	}
	return runRender(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: render [--env NAME]... [--check]    render envs/<env> into rendered/<env>")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "       render %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "run 'render <subcommand> --help' for its flags")
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
