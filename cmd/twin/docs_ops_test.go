package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOperationsDocMatchesTheCode checks docs/operations.md against what
// twin up prints and the components it has: the sample output's lines in
// the order twin up prints them, the same running line, and one row of
// the component table per component.
func TestOperationsDocMatchesTheCode(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	sample := regexp.MustCompile("(?s)`twin up` prints where each part listens.*?```\n(.*?)```").FindStringSubmatch(doc)
	if sample == nil {
		t.Fatal("operations.md has no sample output of twin up")
	}
	p := startUp(t, t.TempDir())
	printed := labels(p.stdout.String())
	documented := labels(sample[1])
	for _, l := range documented {
		i := slices.Index(printed, l)
		if i < 0 {
			t.Errorf("the sample output has a line %q that twin up does not print; it prints %v", l, labels(p.stdout.String()))
			break
		}
		printed = printed[i+1:]
	}
	running := "running  " + componentNames(components()) + "\n"
	if !strings.Contains(sample[1], running) || !strings.Contains(p.stdout.String(), running) {
		t.Errorf("the sample output and twin up should both say %q:\n%s\n%s", running, sample[1], p.stdout.String())
	}

	start := strings.Index(doc, "| component | does |")
	if start < 0 {
		t.Fatal("operations.md has no component table")
	}
	block, _, _ := strings.Cut(doc[start:], "\n\n")
	table := regexp.MustCompile("(?m)^\\| `([a-z]+)` \\| ").FindAllStringSubmatch(block, -1)
	var rows []string
	for _, m := range table {
		rows = append(rows, m[1])
	}
	for _, c := range components() {
		if !slices.Contains(rows, c.name) {
			t.Errorf("the component table of operations.md has no row for %s", c.name)
		}
	}
	for _, r := range rows {
		if _, err := pickComponents([]string{r}); err != nil {
			t.Errorf("the component table of operations.md has a row for %s, which is no component", r)
		}
	}
}

// labels are the first words of the lines of out.
func labels(out string) []string {
	var ls []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 {
			ls = append(ls, f[0])
		}
	}
	return ls
}
