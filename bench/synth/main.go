// Command synth writes a synthetic platform for benchmarks: the repository's
// schema and envs plus extra services (see internal/synth).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ecommerce-platform/gitops/internal/synth"
)

func main() {
	repo := flag.String("repo", ".", "the repository to copy schema/ and envs/ from")
	out := flag.String("out", "", "where to write the synthetic repository")
	services := flag.Int("services", 50, "how many services the platform has")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "synth: -out is required")
		os.Exit(2)
	}
	if err := synth.Write(*repo, *out, *services); err != nil {
		fmt.Fprintf(os.Stderr, "synth: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(*out)
}
