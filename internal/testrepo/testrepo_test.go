package testrepo

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "env.cue")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func read(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFindAndSetFollowEitherStructForm(t *testing.T) {
	file := write(t, "platform: services: {\n\tweb: replicas: 3\n\tapi: {replicas: 2}\n}\n")
	web := Find(t, file, "platform", "services", "web", "replicas")
	if web.Text != "3" || web.Value.Line != 2 {
		t.Errorf("web = %q at line %d", web.Text, web.Value.Line)
	}
	Set(t, Find(t, file, "platform", "services", "api", "replicas"), "5")
	if got, want := read(t, file), "platform: services: {\n\tweb: replicas: 3\n\tapi: {replicas: 5}\n}\n"; got != want {
		t.Errorf("after Set:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeleteRemovesAFieldOfABracedStruct(t *testing.T) {
	file := write(t, "platform: {\n\tname: \"prod\"\n\tdatabases: shared.databases\n}\n")
	Delete(t, Find(t, file, "platform", "databases"))
	if got, want := read(t, file), "platform: {\n\tname: \"prod\"\n}\n"; got != want {
		t.Errorf("after Delete:\n%q\nwant:\n%q", got, want)
	}
}

func TestDeleteOfAWholeDeclaration(t *testing.T) {
	file := write(t, "a: 1\nplatform: databases: \"orders-db\": {\n\tsize: \"20Gi\"\n}\nb: 2\n")
	Delete(t, Find(t, file, "platform"))
	if got, want := read(t, file), "a: 1\nb: 2\n"; got != want {
		t.Errorf("after Delete:\n%q\nwant:\n%q", got, want)
	}
}

func TestDeleteOfAShortFormField(t *testing.T) {
	file := write(t, "platform: services: web: replicas: 3\n\nplatform: databases: \"orders-db\": {\n\tsize: \"20Gi\"\n}\n")
	Delete(t, Find(t, file, "platform", "databases", "orders-db"))
	if got, want := read(t, file), "platform: services: web: replicas: 3\n\n"; got != want {
		t.Errorf("after Delete:\n%q\nwant:\n%q", got, want)
	}
}
