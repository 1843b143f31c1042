// Package synth builds synthetic platforms for benchmarks: the repository's
// real schema and envs, plus as many extra services as asked, so render and
// check can be measured at 50, 200 or 500 services.
package synth

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
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
	return os.WriteFile(filepath.Join(dst, "envs", "shared", "synthetic.cue"), []byte(b.String()), 0o644)
}

// realServices is how many services envs/shared already has.
const realServices = 5
