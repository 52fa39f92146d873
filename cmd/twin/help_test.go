package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestEveryFlagOfUpHasAGroup(t *testing.T) {
	t.Parallel()
	newUpCmd(&globals{}).LocalFlags().VisitAll(func(f *pflag.Flag) {
		if g := groupOf(f.Name); g == "Other" && f.Name != "help" {
			t.Errorf("--%s is in no group of twin up --help: add it to flagGroups in help.go", f.Name)
		}
	})
}

func TestHelpShowsFlagsByGroupAndRunOnlyWhatApplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    []string // in this order
		without []string
	}{
		{[]string{"up", "--help"},
			[]string{"Examples:", "HTTP and auth flags:", "--auth-token", "NATS flags:", "--nats-max-memory", "Stores flags:", "--mongo", "Models flags:", "--llm-url",
				"Chat flags:", "--rag-top-k", "Crawl flags:", "--crawl-rate", "Limits flags:", "--chat-max-conns", "Learning flags:", "--policy-window", "Global Flags:"},
			[]string{"Other flags:\n      --"}},
		{[]string{"run", "--help"},
			[]string{"Crawl flags (crawler, gateway):", "--crawl-rate"},
			[]string{"--nats-listen", "--nats-max-memory", "Only the flags of"}},
		{[]string{"run", "crawler", "--help"},
			[]string{"NATS flags:", "--stream-replicas", "Crawl flags:", "--crawl-rate", "Only the flags of crawler are shown"},
			[]string{"Chat flags", "--rag-top-k", "--llm-url", "--nats-max-memory"}},
		{[]string{"run", "embedder", "rag", "--help"},
			[]string{"Stores flags:", "--qdrant", "Models flags:", "--embed-model", "Chat flags:", "--rag-top-k"},
			[]string{"Crawl flags", "--crawl-rate"}},
		{[]string{"search", "--help"}, []string{"-k, --top int"}, []string{"--k "}},
	}
	for _, tt := range tests {
		code, out, errOut := runTwin(tt.args...)
		if code != 0 {
			t.Errorf("twin %s exited %d: %s", strings.Join(tt.args, " "), code, errOut)
			continue
		}
		rest := out
		for _, want := range tt.want {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("twin %s does not say %q (after what came before):\n%s", strings.Join(tt.args, " "), want, out)
				break
			}
			rest = rest[i+len(want):]
		}
		for _, not := range tt.without {
			if strings.Contains(out, not) {
				t.Errorf("twin %s says %q", strings.Join(tt.args, " "), not)
			}
		}
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.Hidden && c.Name() != "help" && c.Name() != "completion" && c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&globals{}))
}

// TestBadCommandLinesSayWhatToType checks the exit code and the message of
// each kind of mistake in a command line: 2 and what to type instead.
func TestBadCommandLinesSayWhatToType(t *testing.T) {
	t.Parallel()
	noServer := []string{"--server", "http://127.0.0.1:1", "--nats", "nats://127.0.0.1:1"}
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"search", "--tpo", "3", "csv"}, 2, "unknown flag --tpo: did you mean --top? (see twin search --help)"},
		{[]string{"search", "--autor=Ann", "csv"}, 2, "unknown flag --autor: did you mean --author?"},
		{[]string{"docs", "ls", "--limt", "3"}, 2, "did you mean --limit? (see twin docs ls --help)"},
		{[]string{"up", "--nats-lisen", "off"}, 2, "did you mean --nats-listen?"},
		{[]string{"search", "--zzzzzz", "csv"}, 2, "unknown flag --zzzzzz (see twin search --help)"},
		{[]string{"search", "-q", "csv"}, 2, "unknown shorthand flag: 'q' in -q (see twin search --help)"},
		{[]string{"serch", "csv"}, 2, "Did you mean this?\n\tsearch"},
		{[]string{"search"}, 2, `missing what to search for, e.g. twin search "csv files" (see twin search --help)`},
		{[]string{"import"}, 2, "missing the JSON-lines file to import"},
		{[]string{"import", "a.jsonl", "b.jsonl"}, 2, "twin import takes 1 argument, got 2"},
		{[]string{"crawl"}, 2, "missing the URL of a page to crawl"},
		{[]string{"extract"}, 2, "missing the HTML file or URL to extract"},
		{[]string{"docs", "get"}, 2, "missing the id of the document"},
		{[]string{"traces", "show"}, 2, "missing the trace or chat request id"},
		{[]string{"models", "promote"}, 2, "missing the version to serve"},
		{[]string{"run"}, 2, "missing the components to run, e.g. twin run gateway (the components: warehouse, "},
		{[]string{"status", "now"}, 2, `unknown command "now" for "twin status"`},
		{[]string{"eval", "retrieval"}, 2, `required flag(s) "corpus", "qrels", "queries" not set`},
		// Not a mistake: --k is the old spelling of -k/--top, and the
		// command goes on to fail on the missing server.
		{append([]string{"search", "csv", "--k", "3"}, noServer...), 1, "reach twin at http://127.0.0.1:1"},
		{append([]string{"search", "csv", "-k", "3"}, noServer...), 1, "reach twin at http://127.0.0.1:1"},
		{append([]string{"search", "csv", "--top", "3"}, noServer...), 1, "k=3"},
	}
	for _, tt := range tests {
		code, out, errOut := runTwin(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.says) {
			t.Errorf("twin %s = %d\n%s%s\nwant %d saying %q", strings.Join(tt.args, " "), code, out, errOut, tt.code, tt.says)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{{"top", "top", 0}, {"tpo", "top", 1}, {"autor", "author", 1}, {"", "abc", 3}, {"limt", "limit", 1}, {"kitten", "sitting", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestVersionReportsTheBuild(t *testing.T) {
	t.Parallel()
	code, out, errOut := runTwin("version", "--json")
	var v struct{ Version, Revision, Go string }
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.Revision == "" || !strings.HasPrefix(v.Go, "go") {
		t.Fatalf("twin version --json = %d %q %s", code, out, errOut)
	}
	code, out, _ = runTwin("version")
	if code != 0 || !strings.HasPrefix(out, "twin "+v.Version+", revision ") {
		t.Errorf("twin version = %d %q", code, out)
	}
}
