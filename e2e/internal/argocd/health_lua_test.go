package argocd

import (
	"fmt"
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

// The Application health check of the values file, run as Argo CD runs a
// resource customization (gopher-lua, the object as the global obj, a table
// with status and message returned), on child Applications in each state.
// A Suspended child (a blue-green release paused for its promotion) must be
// Healthy for its parent, or every sync of the root app during a release
// waits for the promotion (gitops-engine keeps a task running until it is
// Healthy or Degraded); the other states pass through as Argo CD documents.
func TestApplicationHealthCheckLetsAPausedReleaseThrough(t *testing.T) {
	s, err := ReadSettings(filepath.Join(testrepo.Root(t), ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	script := s.CM["resource.customizations.health.argoproj.io_Application"]
	for _, c := range []struct {
		name, status, message string
		want, wantMessage     string
	}{
		{"paused release", "Suspended", "Rollout is paused", "Healthy", "Suspended (a paused release waits for its promotion): Rollout is paused"},
		{"healthy", "Healthy", "", "Healthy", ""},
		{"progressing", "Progressing", "waiting for rollout", "Progressing", "waiting for rollout"},
		{"degraded", "Degraded", "AccessDenied", "Degraded", "AccessDenied"},
		{"missing", "Missing", "", "Missing", ""},
		{"no status yet", "", "", "Progressing", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"}
			if c.status != "" {
				app["status"] = map[string]any{"health": map[string]any{"status": c.status, "message": c.message}}
			}
			status, message := runHealthLua(t, script, app)
			if status != c.want || message != c.wantMessage {
				t.Errorf("health %q %q, want %q %q", status, message, c.want, c.wantMessage)
			}
		})
	}
}

func runHealthLua(t *testing.T, script string, obj map[string]any) (status, message string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health check: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health check returned %s, want a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		tb := L.NewTable()
		for k, e := range v {
			tb.RawSetString(k, toLua(L, e))
		}
		return tb
	case string:
		return lua.LString(v)
	default:
		panic(fmt.Sprintf("toLua: %T is not used by these cases", v))
	}
}
