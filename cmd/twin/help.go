package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagGroup is a titled group of the flags of up and run, and the
// components it applies to (every one when empty).
type flagGroup struct {
	title      string
	components []string
	names      []string // flags named exactly
	prefixes   []string // and flags whose names start so
}

// flagGroups are the groups the help of up and run shows, in order. A flag
// in none of them is shown under "Other".
func flagGroups() []flagGroup {
	return []flagGroup{
		{title: "HTTP and auth", components: []string{"gateway"},
			names: []string{"http", "metrics-public", "allow-open", "chat-origin"}, prefixes: []string{"auth-"}},
		{title: "NATS", names: []string{"nats-listen", "nats-advertise", "nats-max-memory", "nats-max-store", "stream-replicas", "sync"}},
		{title: "Stores", components: []string{"warehouse", "cdc", "embedder", "rag", "monitor", "policy", "trainer", "gateway"},
			names: []string{"mongo", "mongo-db", "cdc-mode", "trace-retention"}, prefixes: []string{"qdrant"}},
		{title: "Models", components: []string{"embedder", "rag", "trainer", "gateway"},
			names: []string{"search-mode", "sagemaker-region"}, prefixes: []string{"embed-", "llm", "rerank"}},
		{title: "Chat", components: []string{"rag", "gateway"},
			names: []string{"rag-context-tokens", "rag-expansions", "rag-max-tokens", "rag-top-k"}},
		{title: "Crawl", components: []string{"crawler", "gateway"}, prefixes: []string{"crawl-"}},
		{title: "Limits", components: []string{"rag", "gateway"},
			names: []string{"rag-max-query", "rag-workers"}, prefixes: []string{"chat-"}},
		{title: "Learning", components: []string{"policy", "trainer", "gateway"},
			names: []string{"dataset-seed", "s3-endpoint"}, prefixes: []string{"policy-", "gate-", "promote-", "trainer", "training-", "sagemaker-"}},
	}
}

// embeddedOnly are the flags of the embedded NATS server, which twin run
// (always against an outside server) does not start.
var embeddedOnly = []string{"nats-listen", "nats-max-memory", "nats-max-store"}

// groupOf is the title of the group of flag name, or "Other".
func groupOf(name string) string {
	for _, g := range flagGroups() {
		if slices.Contains(g.names, name) {
			return g.title
		}
	}
	for _, g := range flagGroups() {
		for _, p := range g.prefixes {
			if strings.HasPrefix(name, p) {
				return g.title
			}
		}
	}
	return "Other"
}

// useGroupedHelp makes cmd's usage show its flags by group; for twin run,
// only the groups of the components named on its command line (twin run
// gateway --help), each saying which components it applies to.
func useGroupedHelp(cmd *cobra.Command, forRun bool) {
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		var named []string
		if forRun {
			named = c.Flags().Args()
		}
		writeGroupedUsage(c.OutOrStderr(), c, forRun, named)
		return nil
	})
}

func writeGroupedUsage(w io.Writer, c *cobra.Command, forRun bool, named []string) {
	fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	sets := map[string]*pflag.FlagSet{}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || (forRun && slices.Contains(embeddedOnly, f.Name)) {
			return
		}
		g := groupOf(f.Name)
		if f.Name == "help" {
			g = "Other"
		}
		if sets[g] == nil {
			sets[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
		}
		sets[g].AddFlag(f)
	})
	groups := append(flagGroups(), flagGroup{title: "Other"})
	for _, g := range groups {
		set := sets[g.title]
		if set == nil || !applies(g, named) {
			continue
		}
		title := g.title + " flags"
		if forRun && len(g.components) > 0 && len(named) == 0 {
			title += " (" + strings.Join(g.components, ", ") + ")"
		}
		fmt.Fprintf(w, "\n%s:\n%s", title, set.FlagUsages())
	}
	if forRun && len(named) > 0 {
		fmt.Fprintf(w, "\nOnly the flags of %s are shown; twin run --help shows all.\n", strings.Join(named, ", "))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\nGlobal Flags:\n%s", c.InheritedFlags().FlagUsages())
	}
}

// applies reports whether g applies to any of the named components (to
// every command line that names none).
func applies(g flagGroup, named []string) bool {
	if len(named) == 0 || len(g.components) == 0 {
		return true
	}
	for _, n := range named {
		if slices.Contains(g.components, n) {
			return true
		}
	}
	return false
}
