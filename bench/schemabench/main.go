// Command schemabench supports bench/schema: it builds the synthetic object
// set, exports the validator's converted schemas in kubeconform's local
// layout, and times our validator on the same files.
//
//	schemabench gen -copies N -out DIR RENDERED_DIR...
//	schemabench export -out DIR OBJECTS_DIR
//	schemabench run OBJECTS_DIR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/schemacheck"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: schemabench gen|export|run ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "export":
		err = export(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemabench:", err)
		os.Exit(1)
	}
}

var metadataName = regexp.MustCompile(`(?m)^  name: (.*)$`)

// gen writes `copies` multi-document files, each holding every rendered
// object under a new name.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	copies := fs.Int("copies", 40, "copies of the rendered set")
	out := fs.String("out", "", "output directory")
	fs.Parse(args)
	var docs [][]byte
	for _, dir := range fs.Args() {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !manifest.IsYAML(p) || manifest.IsKustomization(d.Name()) {
				return err
			}
			data, err := os.ReadFile(p)
			docs = append(docs, data)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for i := range *copies {
		var stream []byte
		for _, d := range docs {
			stream = append(stream, "---\n"...)
			stream = append(stream, metadataName.ReplaceAll(d, []byte(fmt.Sprintf("  name: ${1}-copy%d", i)))...)
		}
		if err := os.WriteFile(filepath.Join(*out, fmt.Sprintf("copy-%03d.yaml", i)), stream, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d files of %d objects\n", *copies, len(docs))
	return nil
}

// export writes one standalone JSON schema per apiVersion/kind found, at
// <group>/<kind>_<version>.json, kubeconform's template
// "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
// (for core kinds kubeconform's Group is the version, e.g. v1/service_v1.json).
func export(args []string) error {
	fs := flag.NewFlagSet("export", flag.ExitOnError)
	out := fs.String("out", "", "schema directory")
	fs.Parse(args)
	v, err := schemacheck.New(schemacheck.Options{})
	if err != nil {
		return err
	}
	objs, err := manifest.Load(fs.Args()...)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, o := range objs {
		key := o.APIVersion() + " " + o.Kind()
		if done[key] {
			continue
		}
		done[key] = true
		doc, err := v.StandaloneSchema(o.APIVersion(), o.Kind())
		if err != nil {
			fmt.Printf("no schema file for %s: %v\n", key, err)
			continue
		}
		parts := strings.Split(o.APIVersion(), "/")
		path := filepath.Join(*out, parts[0], strings.ToLower(o.Kind())+"_"+parts[len(parts)-1]+".json")
		data, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// run times what `render check` would do for schemas: load the YAML, build
// the validator (warm cache), validate every object.
func run(args []string) error {
	start := time.Now()
	v, err := schemacheck.New(schemacheck.Options{})
	if err != nil {
		return err
	}
	objs, err := manifest.Load(args...)
	if err != nil {
		return err
	}
	validateStart := time.Now()
	findings := v.Validate(objs, "bench")
	end := time.Now()
	total, validate := end.Sub(start), end.Sub(validateStart)
	fmt.Printf("objects=%d findings=%d total=%s validate=%s total_objects_per_s=%.0f validate_objects_per_s=%.0f\n",
		len(objs), len(findings), total.Round(time.Millisecond), validate.Round(time.Millisecond),
		float64(len(objs))/total.Seconds(), float64(len(objs))/validate.Seconds())
	if len(findings) > 0 {
		fmt.Println("first finding:", findings[0].File, findings[0].Line, findings[0].Message)
	}
	return nil
}
