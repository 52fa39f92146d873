package evaldata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPathFindsTheDataAboveAnyDepth(t *testing.T) {
	root := t.TempDir()
	want := filepath.Join(root, "shared", "data", "set")
	deep := filepath.Join(root, "repo", "a", "b", "c")
	for _, d := range []string{want, deep} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(deep)
	if got := Path("set"); got != want {
		t.Fatalf("Path(set) = %q, want %q", got, want)
	}
	if got := Path("absent"); got != "" {
		t.Fatalf("Path(absent) = %q, want none", got)
	}
}
