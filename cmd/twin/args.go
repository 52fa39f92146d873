package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is a command line twin cannot run: a missing argument, an
// unknown flag or command. It exits 2, other failures 1.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// isUsage reports whether err is a mistake in the command line, including
// the ones cobra itself reports.
func isUsage(err error) bool {
	if errors.As(err, new(usageError)) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires at least ")
}

// flagError is the root's FlagErrorFunc: an unknown flag is told the
// closest one the command has.
func flagError(c *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	}
	name, _, _ = strings.Cut(name, "=")
	if best := closestFlag(c.Flags(), name); best != "" {
		return usageError{fmt.Errorf("unknown flag --%s: did you mean --%s? (see %s --help)", name, best, c.CommandPath())}
	}
	return usageError{fmt.Errorf("unknown flag --%s (see %s --help)", name, c.CommandPath())}
}

// closestFlag is the visible flag of fs whose name is nearest to name: a
// name it starts with or at most a third of its letters away, or "".
func closestFlag(fs *pflag.FlagSet, name string) string {
	best, bestDist := "", len(name)/3+1
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" {
			return
		}
		d := editDistance(name, f.Name)
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			d = 1
		}
		if d < bestDist || (d == bestDist && best != "" && f.Name < best) {
			best, bestDist = f.Name, d
		}
	})
	if bestDist > len(name)/3+1 || best == "" {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, with a
// transposition of neighbours counted as one edit.
func editDistance(a, b string) int {
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// exactArgs is cobra.ExactArgs(n) whose refusal says what to type: what
// names the missing argument and shows an example.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageError{fmt.Errorf("missing %s (see %s --help)", what, cmd.CommandPath())}
		case len(args) > n:
			return usageError{fmt.Errorf("%s takes %s, got %d: %q (quote an argument that holds spaces)", cmd.CommandPath(), plural(n, "argument"), len(args), args)}
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs(n) whose refusal says what to type.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("missing %s (see %s --help)", what, cmd.CommandPath())}
		}
		return nil
	}
}

// topFlag defines -k/--top on fs, and --k, its older spelling, as a hidden
// deprecated alias of it.
func topFlag(fs *pflag.FlagSet, k *int, def int, usage string) {
	fs.IntVarP(k, "top", "k", def, usage)
	fs.IntVar(k, "k", def, usage)
	_ = fs.MarkDeprecated("k", "use -k or --top")
}
