// Tests of the analytics batch (schema/aws_analytics_batch.cue): the state
// machine's transitions are checked by CUE, the Spark script it uploads is
// valid Python whose runs keep every day of the summary, and the lake's
// bucket policy names the lake key only once it is known.
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
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
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

// python3 returns the interpreter. Not skipped without it: make test
// installs it (hack/install-test-deps.sh), so a machine without it fails.
func python3(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to run the Spark script's tests: run hack/install-test-deps.sh (make test does): %v", err)
	}
	return python
}

// sparkScript writes the script the prod machine uploads to jobs/ into a
// temporary file and returns its path, its text and the job's arguments.
func sparkScript(t *testing.T) (file, body string, args []any) {
	t.Helper()
	states := batchDefinition(t)["States"].(map[string]any)
	upload, _ := states["UploadSparkScript"].(map[string]any)["Arguments"].(map[string]any)
	body, _ = upload["Body"].(string)
	if !strings.Contains(body, "saveAsTable") {
		t.Fatalf("UploadSparkScript uploads no Spark job:\n%s", body)
	}
	run, _ := states["RunSparkJob"].(map[string]any)["Arguments"].(map[string]any)
	args = list(run, "JobDriver", "SparkSubmit", "EntryPointArguments")
	file = filepath.Join(t.TempDir(), "log_summary.py")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, body, args
}

// TestSparkScriptCompiles: the script the machine uploads to jobs/ is Python
// that compiles (a CUE multi-line string can lose its indentation).
func TestSparkScriptCompiles(t *testing.T) {
	file, _, _ := sparkScript(t)
	if out, err := exec.Command(python3(t), "-m", "py_compile", file).CombinedOutput(); err != nil {
		t.Fatalf("the Spark script does not compile: %v\n%s", err, out)
	}
}

// TestSparkScriptKeepsEveryDay: hour after hour over ten days, the script's
// day selection (read_days, complete_days) with the rendered lookback never
// replaces a day of the summary with fewer records than it had: not with
// the few late records of an older day found in a folder it reads (the
// reviewer's defect: dynamic overwrite of every day present), nor by missing
// a day's first records, which Firehose files under the day before.
// testdata/log_summary_days.py runs it; Firehose and Spark's dynamic
// overwrite are stand-ins there (no Spark here), the script's functions are
// the real ones. That main writes only those days is read from its text.
func TestSparkScriptKeepsEveryDay(t *testing.T) {
	file, body, args := sparkScript(t)
	lookback, _ := args[len(args)-1].(string)
	out, err := exec.Command(python3(t), filepath.Join("testdata", "log_summary_days.py"), file, lookback).CombinedOutput()
	if err != nil {
		t.Fatalf("a run of the Spark job shrinks a day of the summary: %v\n%s", err, out)
	}
	for _, use := range []string{
		"written = [d.isoformat() for d in complete_days(today, int(lookback))]",
		`.where(F.col("dt").isin(written))`,
		"for d in read_days(today, int(lookback))",
	} {
		if !strings.Contains(body, use) {
			t.Errorf("the Spark job's main no longer has %q: it may write days complete_days leaves out", use)
		}
	}
}

// denyOtherKeys returns the key ARN the lake bucket policy of env accepts.
func denyOtherKeys(t *testing.T, objs []*manifest.Object) string {
	t.Helper()
	for _, o := range objs {
		if o.Kind() != "BucketPolicy" {
			continue
		}
		var doc struct {
			Statement []struct {
				Sid       string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(str(o.Object, "spec", "forProvider", "policy")), &doc); err != nil {
			t.Fatalf("%s: policy: %v", o.Name(), err)
		}
		for _, st := range doc.Statement {
			if st.Sid == "DenyOtherKeys" {
				return st.Condition["StringNotLikeIfExists"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
			}
		}
	}
	t.Fatal("no bucket policy with a DenyOtherKeys statement")
	return ""
}

// TestLakePolicyAcceptsTheAccountsKeysUntilTheKeyIsKnown: without kmsKeyArn
// (an empty account: the key id does not exist yet) the lake bucket policy
// accepts any key of the account in the region, so Athena's SSE_KMS result
// writes with the new key pass (README, Bootstrap); with it, only that key.
func TestLakePolicyAcceptsTheAccountsKeysUntilTheKeyIsKnown(t *testing.T) {
	fixture := renderAWS(t, testrepo.Fixture(t), "envs")["small"]
	if got, want := denyOtherKeys(t, fixture), "arn:aws:kms:eu-west-1:210987654321:key/*"; got != want {
		t.Errorf("without kmsKeyArn the policy accepts %s, want %s", got, want)
	}
	key := "arn:aws:kms:eu-west-1:210987654321:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	root := copyModule(t, "envs/small/aws.cue", `bucket:   "small-analytics"`, `bucket:   "small-analytics"
		kmsKeyArn: "`+key+`"`)
	if got := denyOtherKeys(t, renderAWS(t, root, "envs")["small"]); got != key {
		t.Errorf("with kmsKeyArn the policy accepts %s, want only %s", got, key)
	}
}
