// Tests of the analytics batch (schema/aws_analytics_batch.cue): the state
// machine's transitions are checked by CUE, and the Spark script it uploads
// is valid Python.
package schema_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/generator"
)

// batchDefinition returns the prod state machine's definition, parsed.
func batchDefinition(t *testing.T) map[string]any {
	t.Helper()
	for _, o := range renderAWS(t, repoRoot, "envs")["prod"] {
		if o.Kind() != "StateMachine" {
			continue
		}
		var def map[string]any
		if err := json.Unmarshal([]byte(str(o.Object, "spec", "forProvider", "definition")), &def); err != nil {
			t.Fatalf("%s: definition: %v", o.Name(), err)
		}
		return def
	}
	t.Fatal("prod renders no StateMachine")
	return nil
}

// TestBatchTransitionsNameStates: every transition of the rendered machine
// lands on one of its states, every state is reachable, and a transition to
// a missing state does not render.
func TestBatchTransitionsNameStates(t *testing.T) {
	def := batchDefinition(t)
	states, _ := def["States"].(map[string]any)
	next := func(s map[string]any) []string {
		var out []string
		for _, k := range []string{"Next", "Default"} {
			if n, ok := s[k].(string); ok {
				out = append(out, n)
			}
		}
		for _, k := range []string{"Catch", "Choices"} {
			items, _ := s[k].([]any)
			for _, it := range items {
				if n, ok := it.(map[string]any)["Next"].(string); ok {
					out = append(out, n)
				}
			}
		}
		return out
	}
	seen := map[string]bool{}
	queue := []string{def["StartAt"].(string)}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		s, ok := states[name].(map[string]any)
		if !ok {
			t.Fatalf("a transition names %q, which is not a state", name)
		}
		queue = append(queue, next(s)...)
	}
	for name := range states {
		if !seen[name] {
			t.Errorf("state %s is unreachable from StartAt", name)
		}
	}

	// The fixture repository (its envs are the golden fixtures: small has analytics).
	root := copyModule(t, "schema/aws_analytics_batch.cue", `Next: "RunSparkJob"`, `Next: "RunSparkJobs"`)
	_, err := generator.Render(context.Background(), generator.Options{Root: root, Envs: []string{"small"}})
	if err == nil || !strings.Contains(err.Error(), "aws_analytics_batch.cue") {
		t.Fatalf("a transition to a missing state rendered: err = %v", err)
	}
}

// TestSparkScriptCompiles: the script the machine uploads to jobs/ is Python
// that compiles (a CUE multi-line string can lose its indentation).
func TestSparkScriptCompiles(t *testing.T) {
	// Not skipped without python3: make test installs it
	// (hack/install-test-deps.sh), so a machine without it fails here.
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to compile the Spark script: run hack/install-test-deps.sh (make test does): %v", err)
	}
	states := batchDefinition(t)["States"].(map[string]any)
	args, _ := states["UploadSparkScript"].(map[string]any)["Arguments"].(map[string]any)
	body, _ := args["Body"].(string)
	if !strings.Contains(body, "saveAsTable") {
		t.Fatalf("UploadSparkScript uploads no Spark job:\n%s", body)
	}
	file := filepath.Join(t.TempDir(), "log_summary.py")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, "-m", "py_compile", file).CombinedOutput(); err != nil {
		t.Fatalf("the Spark script does not compile: %v\n%s", err, out)
	}
}
