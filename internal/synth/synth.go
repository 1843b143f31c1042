// Package synth builds synthetic platforms for benchmarks: the repository's
// real schema and envs, plus as many extra services as asked, so render and
// check can be measured at 50, 200 or 500 services.
package synth

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Write copies cue.mod/, schema/ and envs/ from repo into dst and adds
// services so the platform has total services (it keeps the real ones).
// Every third new service is public, every second uses the database.
func Write(repo, dst string, total int) error {
	for _, dir := range []string{"cue.mod", "schema", "envs"} {
		if err := os.CopyFS(filepath.Join(dst, dir), os.DirFS(filepath.Join(repo, dir))); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString("package shared\n\n// Synthetic services for benchmarks.\nservices: {\n")
	for i := range max(0, total-realServices) {
		name := fmt.Sprintf("synthetic-%03d", i)
		digest := sha256.Sum256([]byte(name))
		fmt.Fprintf(&b, "\t%q: {\n", name)
		fmt.Fprintf(&b, "\t\timage: {repository: \"shop/%s\", digest: \"sha256:%x\"}\n", name, digest)
		b.WriteString("\t\treplicas: 3\n")
		b.WriteString("\t\tresources: {requests: {cpu: \"100m\", memory: \"128Mi\"}, limits: memory: \"256Mi\"}\n")
		if i%3 == 0 {
			fmt.Fprintf(&b, "\t\tingress: path: \"/api/%s\"\n", name)
		}
		if i%2 == 0 {
			b.WriteString("\t\tdatabase: \"orders-db\"\n")
			fmt.Fprintf(&b, "\t\tcredentials: API_TOKEN: {key: \"%s/api\", property: \"token\"}\n", name)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dst, "envs", "shared", "synthetic.cue"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return scaleNodeGroups(dst, max(0, total-realServices))
}

// generalMax matches the general node group's max size in an env's aws.cue.
var generalMax = regexp.MustCompile(`(general:\s*\{[^}]*\bmax:\s*)(\d+)`)

// scaleNodeGroups grows each env's general node group with the synthetic
// services, so the synthetic platform still has room after losing a zone
// (policy capacity.zone-loss) and the benchmark measures a passing check,
// not the CUE sourcing of findings. A synthetic service requests 0.1 CPU
// per pod and runs up to 18 pods (HPA max 9, twice during a blue-green
// release): 1.8 CPU, about 0.7 m6i.xlarge nodes once a third of them is lost.
func scaleNodeGroups(dst string, extra int) error {
	files, err := filepath.Glob(filepath.Join(dst, "envs", "*", "aws.cue"))
	if err != nil {
		return err
	}
	scaled := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		m := generalMax.FindSubmatchIndex(src)
		if m == nil {
			continue // an env without a general node group (envs/shared)
		}
		current, _ := strconv.Atoi(string(src[m[4]:m[5]]))
		grown := current + 3*((extra*7/10+2)/3)
		out := append(append(append([]byte{}, src[:m[4]]...), strconv.Itoa(grown)...), src[m[5]:]...)
		if err := os.WriteFile(f, out, 0o644); err != nil {
			return err
		}
		scaled++
	}
	if scaled == 0 {
		return fmt.Errorf("no env's aws.cue has a general node group max to scale (pattern %s)", generalMax)
	}
	return nil
}

// realServices is how many services envs/shared already has.
const realServices = 5
