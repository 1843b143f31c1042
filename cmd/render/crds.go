package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/ecommerce-platform/gitops/internal/crdlock"
)

func init() {
	subcommands["crds"] = subcommand{
		summary: "the upstream CRDs of schema/crds.lock.yaml: fetch (or verify --crds DIR) into the cache, print the verified folder",
		run:     runCRDs,
	}
}

// runCRDs implements render crds fetch|path [--crds DIR].
//
//	fetch  what the cache lacks: from ../shared/crds where it matches, else
//	       the Go module proxy or the source's release URL
//	path   the same, offline: never fetches
//
// Both print the verified folder (for E2E_CRDS) on stdout.
func runCRDs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render crds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	crds := fs.String("crds", "", "a folder of the locked files to verify and use instead of the cache (default $"+crdlock.EnvDir+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: render crds fetch|path [--crds DIR]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || (args[0] != "fetch" && args[0] != "path") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return exitOK
		}
		fs.Usage()
		return exitBadInput
	}
	offline := args[0] == "path"
	if code, failed := parseFlags(fs, args[1:]); failed {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render crds: unexpected argument %q\n", fs.Arg(0))
		return exitBadInput
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := resolveCRDs(ctx, *crds, offline, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "render crds: %v\n", err)
		return exitBadInput
	}
	if len(res.Fetched) > 0 {
		fmt.Fprintf(stderr, "fetched %d CRD file(s): %s\n", len(res.Fetched), strings.Join(res.Fetched, ", "))
	}
	fmt.Fprintln(stdout, res.Dir)
	return exitOK
}

// resolveCRDs is the verified CRD folder for check and crds; it warns about
// upstream files the lock does not name (they are not used).
func resolveCRDs(ctx context.Context, given string, offline bool, stderr io.Writer) (crdlock.Result, error) {
	res, err := crdlock.Dir(ctx, given, offline)
	if err == nil && len(res.Unlocked) > 0 {
		fmt.Fprintf(stderr, "crds: not in %s, so not used: %s\n", crdlock.FileName, strings.Join(res.Unlocked, ", "))
	}
	return res, err
}
