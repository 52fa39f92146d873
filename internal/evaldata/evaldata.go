// Package evaldata finds the evaluation data that lives beside the
// repository (shared/data), not in it, for tests at any depth of the tree:
// a path counted in "../" breaks, and then silently skips, the day a
// package moves.
package evaldata

import (
	"os"
	"path/filepath"
)

// Path returns shared/data/<name> from the first folder at or above the
// working directory (a test's package) that has it, or "" when none does.
func Path(name string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
