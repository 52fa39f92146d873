package main

import (
	"strings"
	"testing"
)

func TestModelsCommandsOnAnEmptyRegistry(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	for _, tc := range []struct {
		args    []string
		ok      bool
		printed string
	}{
		{[]string{"models", "ls"}, true, "no model versions yet"},
		{[]string{"models", "ls", "--json"}, true, `"models": []`},
		{[]string{"models", "promote", "7"}, false, "no such model version"},
		{[]string{"models", "rollback"}, false, "nothing to roll back to"},
		{[]string{"models", "promote", "1", "--name", "a.b"}, false, "must be a model name"},
		{[]string{"train", "ls"}, true, "no training jobs yet"},
		{[]string{"train", "trigger", "--kind", "rlhf"}, false, `--kind "rlhf"`},
	} {
		out, err := p.twin(t, tc.args...)
		if err != nil {
			out += err.Error() // it holds what the command wrote to stderr
		}
		if (err == nil) != tc.ok || !strings.Contains(out, tc.printed) {
			t.Errorf("twin %s = %q, %v; want ok %v and %q", strings.Join(tc.args, " "), out, err, tc.ok, tc.printed)
		}
	}
}
