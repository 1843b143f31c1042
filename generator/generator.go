// Package generator renders environments: envs/<env> unified with schema/,
// evaluated by CUE, written as rendered/<env>/<app>/ with one YAML file per
// object and a kustomization.yaml. It knows nothing about the platform: what
// objects exist is the CUE's business; this package only reads
// output.apps.<app>.objects and writes them out.
//
// The pipeline, one stage per file:
//
//	discover  -> which envs exist (discover.go)
//	evaluate  -> one cue.Context per env, load + build + validate (evaluate.go)
//	extract   -> the objects of each app (extract.go)
//	serialise -> stable file names, sorted YAML, kustomization.yaml (serialise.go)
//	write     -> atomic swap of rendered/<env>/ (write.go), or compare (compare.go)
package generator

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"golang.org/x/sync/errgroup"
)

// Options says what to render.
type Options struct {
	// Root is the CUE module root: it holds cue.mod/, envs/ and schema/.
	Root string
	// EnvsDir is the folder of environments, relative to Root ("envs" if empty).
	EnvsDir string
	// Envs selects environments by name; empty means every one.
	Envs []string
	// Jobs bounds how many envs evaluate at once. Each holds its whole CUE
	// evaluation in memory (about 750 MB at its peak at 500 services), so
	// Jobs 1 bounds peak memory to one env. Zero means GOMAXPROCS, lowered
	// by memory: only as many envs at once as fit in evalBudget (see
	// defaultJobs).
	Jobs int
}

// normalise fills defaults and makes Root absolute, so positions in errors
// and sources can be shown relative to it.
func (o Options) normalise() (Options, error) {
	if o.EnvsDir == "" {
		o.EnvsDir = "envs"
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return o, &InputError{Msg: err.Error()}
	}
	o.Root = root
	return o, nil
}

// Env is one rendered environment: every file of rendered/<env>/, sorted by path.
type Env struct {
	Name  string
	Files []File
	// Graph is the env's diagram (output.graph), read in the same pass;
	// nil when the env has none.
	Graph *Graph
}

// File is one rendered file; Path is relative to rendered/<env>/.
type File struct {
	Path string
	Data []byte
}

// Render runs the pipeline for every selected env, in parallel with one CUE
// context each (CUE is not safe for concurrent use within a context), and
// returns them sorted by name. It writes nothing.
func Render(ctx context.Context, opts Options) ([]Env, error) {
	results, _, err := renderAll(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	envs := make([]Env, len(results))
	for i, r := range results {
		envs[i] = r.env
	}
	return envs, nil
}

// rendered is one env's render and the CUE value behind each of its files.
type rendered struct {
	env    Env
	values map[string]cue.Value
}

// renderAll renders the selected envs, at most opts.Jobs at once, sorted by
// name; it also returns the normalised options. Without keepValues an env's
// CUE evaluation is released as soon as its files are serialised (it is most
// of the memory: hundreds of MB at a few hundred services), so a finished env
// does not stay in memory while the next one evaluates.
func renderAll(ctx context.Context, opts Options, keepValues bool) ([]rendered, Options, error) {
	opts, err := opts.normalise()
	if err != nil {
		return nil, opts, err
	}
	names, err := discover(opts)
	if err != nil {
		return nil, opts, err
	}
	results := make([]rendered, len(names))
	inputErrs := make([]*InputError, len(names))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs(opts, names))
	for i, name := range names {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			env, values, err := renderEnv(opts, name)
			if !keepValues {
				values = nil
			}
			results[i] = rendered{env, values}
			// Bad input in one env does not stop the others: a mistake
			// in envs/shared is then reported once, for every env.
			if ie, ok := err.(*InputError); ok {
				inputErrs[i] = ie
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, opts, err
	}
	if err := joinInputErrors(inputErrs); err != nil {
		return nil, opts, err
	}
	return results, opts, nil
}

// evalBudget is how much estimated live heap the envs evaluated at once may
// hold, and liveBytesPerInputByte the estimate: an env's CUE evaluation
// holds at its peak about that many bytes per byte of its own CUE files and
// the shared ones (the platform's data; the schema is the same for every
// size). Measured after issue 18's sixth round (the largest live heap after
// a collection, GODEBUG=gctrace=1): 747 MB for prod at 500 synthetic
// services (160 kB of env CUE), 4,700 bytes per byte; 85 MB for the real
// platform's two envs at once (9 kB each), the same. Evaluating both envs
// of 500 services at once peaked at 5.2 GiB for no gain in wall time on 2
// cores (the collector and page faults ate the second core); the real
// platform gains 20% wall from the parallelism.
const (
	evalBudget            = 1 << 30
	liveBytesPerInputByte = 5000
)

// jobs is how many of names evaluate at once: opts.Jobs, else defaultJobs.
func jobs(opts Options, names []string) int {
	return cmp.Or(opts.Jobs, defaultJobs(opts, names))
}

// defaultJobs is GOMAXPROCS, lowered to as many envs as fit in evalBudget
// by the estimate of the largest (at least one).
func defaultJobs(opts Options, names []string) int {
	n := runtime.GOMAXPROCS(0)
	if est := largestEstimate(opts, names); est > 0 {
		n = min(n, int(max(1, evalBudget/est)))
	}
	return n
}

// largestEstimate is the estimated peak live heap of the largest env's
// evaluation, in bytes.
func largestEstimate(opts Options, names []string) int64 {
	var largest int64
	for _, name := range names {
		largest = max(largest, cueBytes(filepath.Join(opts.Root, opts.EnvsDir, name))+cueBytes(filepath.Join(opts.Root, opts.EnvsDir, sharedDir)))
	}
	return largest * liveBytesPerInputByte
}

// Soft memory limits (runtime/debug.SetMemoryLimit) a render keeps under:
// the collector runs more often as the heap nears the limit, instead of
// letting it reach twice the live heap (GOGC=100). The limit is the
// estimated peak of the envs evaluated at once plus headroomPercent, and
// never under memoryLimitFloor: at 500 synthetic services 918 MiB, a peak
// RSS under 1 GiB against 1.4 GiB without it (BENCHMARKS.md, sixth round).
// A limit under the live heap would make the collector run all the time
// (2.9x slower, fifth round): the headroom is the margin for an estimate
// that is short.
const (
	memoryLimitFloor = 900 << 20
	headroomPercent  = 20
)

// MemoryLimit is the soft memory limit for rendering opts: the estimated
// peak of the envs evaluated at once, plus headroomPercent, at least
// memoryLimitFloor.
func MemoryLimit(opts Options) (int64, error) {
	opts, err := opts.normalise()
	if err != nil {
		return 0, err
	}
	names, err := discover(opts)
	if err != nil {
		return 0, err
	}
	atOnce := int64(max(1, min(jobs(opts, names), len(names))))
	peak := largestEstimate(opts, names) * atOnce
	return max(memoryLimitFloor, peak+peak*headroomPercent/100), nil
}

// cueBytes is the size of the .cue files of dir (0 if there are none).
func cueBytes(dir string) int64 {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// joinInputErrors makes one error of the envs' errors, in env order; the
// same message in several envs (a mistake in a file they share) is
// reported once, naming them all.
func joinInputErrors(errs []*InputError) error {
	var msgs []string
	envsOf := map[string][]string{}
	for _, e := range errs {
		if e == nil {
			continue
		}
		if _, ok := envsOf[e.Msg]; !ok {
			msgs = append(msgs, e.Msg)
		}
		envsOf[e.Msg] = append(envsOf[e.Msg], e.Env)
	}
	if len(msgs) == 0 {
		return nil
	}
	if len(msgs) == 1 {
		return &InputError{Env: strings.Join(envsOf[msgs[0]], ", "), Msg: msgs[0]}
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "env %s: %s", strings.Join(envsOf[m], ", "), m)
	}
	return &InputError{Msg: b.String()}
}

// renderEnv is the pipeline for one env. It also returns the CUE value
// behind each file, for tracing rendered fields back to their source.
func renderEnv(opts Options, name string) (Env, map[string]cue.Value, error) {
	value, err := evaluate(opts, name)
	if err != nil {
		return Env{}, nil, err
	}
	apps, err := extract(value, name)
	if err != nil {
		return Env{}, nil, err
	}
	graph, err := readGraph(value, name)
	if err != nil {
		return Env{}, nil, err
	}
	files, values, err := serialise(apps, name)
	if err != nil {
		return Env{}, nil, err
	}
	slices.SortFunc(files, func(a, b File) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return Env{Name: name, Files: files, Graph: graph}, values, nil
}

// InputError is bad input (CUE that does not evaluate, an unknown env, an
// object without identity): the CLI exits 2 on it. Msg names file:line:col.
type InputError struct {
	Env string
	Msg string
}

func (e *InputError) Error() string {
	if e.Env == "" {
		return e.Msg
	}
	return fmt.Sprintf("env %s: %s", e.Env, e.Msg)
}
