package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// exactArgs is cobra.ExactArgs(n) whose refusal says what to type: what
// names the missing argument and shows an example.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return fmt.Errorf("missing %s (see %s --help)", what, cmd.CommandPath())
		case len(args) > n:
			return fmt.Errorf("%s takes %s, got %d: %q (quote an argument that holds spaces)", cmd.CommandPath(), plural(n, "argument"), len(args), args)
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs(n) whose refusal says what to type.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("missing %s (see %s --help)", what, cmd.CommandPath())
		}
		return nil
	}
}
