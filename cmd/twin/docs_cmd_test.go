package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twin-llm/twin/gateway"
)

var nextPage = regexp.MustCompile(`showing (\d+) of (\d+)(?:; next page: twin docs ls --limit 5 --after (\S+))?\n$`)

func TestDocsLsPagesStatusCountsAndReindexWaits(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	if code, out, errOut := p.run(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison", "--kind", "post", "--wait"); code != 0 {
		t.Fatalf("twin import = %d\n%s%s", code, out, errOut)
	}

	// Every page says how many of how many it shows and how to get the
	// next; together they hold every document once.
	seen := map[string]bool{}
	args := []string{"docs", "ls", "--limit", "5"}
	for pages := 1; ; pages++ {
		code, out, errOut := p.run(t, args...)
		if code != 0 {
			t.Fatalf("twin %s = %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		m := nextPage.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("page %d does not end with showing N of M and the next page:\n%s", pages, out)
		}
		if m[2] != "12" {
			t.Errorf("page %d says of %s, want of 12", pages, m[2])
		}
		rows := strings.Split(strings.TrimSpace(out), "\n")
		n, _ := strconv.Atoi(m[1])
		for _, row := range rows[1 : 1+n] {
			seen[strings.Fields(row)[0]] = true
		}
		if m[3] == "" {
			if pages != 3 || n != 2 {
				t.Errorf("the last page is page %d with %d documents, want page 3 with 2", pages, n)
			}
			break
		}
		if pages > 3 {
			t.Fatalf("paging does not end:\n%s", out)
		}
		args = []string{"docs", "ls", "--limit", "5", "--after", m[3]}
	}
	if len(seen) != 12 {
		t.Errorf("the pages held %d distinct documents, want 12", len(seen))
	}

	steps := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"docs", "ls", "--limit", "0"}, 1, "limit must be a number from 1 to 10000"},
		{[]string{"docs", "ls", "--after", "page-2"}, 1, "after must be the next cursor of an earlier page"},
		{[]string{"docs", "ls", "--after", "r1"}, 0, "no documents after r1 (of 12)"},
		{[]string{"docs", "get"}, 2, "missing the id of the document (twin docs ls lists them)"},
		{[]string{"docs", "rm"}, 2, "missing the id of a document to delete"},
		{[]string{"status"}, 0, "documents  12\n"},
		{[]string{"reindex", "--wait", "--timeout", "1m"}, 0, "queued 12 documents for reindexing\nreindexed 12 documents in "},
		{[]string{"reindex", "--author", "Nobody", "--wait"}, 0, "queued 0 documents for reindexing\nreindexed 0 documents in "},
	}
	for _, s := range steps {
		code, out, errOut := p.run(t, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.says) {
			t.Errorf("twin %s = %d\n%s%s\nwant %d saying %q", strings.Join(s.args, " "), code, out, errOut, s.code, s.says)
		}
	}
	_, out, _ := p.run(t, "status", "--json")
	var st gateway.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Documents == nil || *st.Documents != 12 || st.Points == nil || *st.Points < 12 || len(st.Streams) == 0 {
		t.Errorf("twin status --json = %s, %v: want 12 documents, at least a point each, and the streams", out, err)
	}
	// reindex --wait returned once the pipeline had handled all of it.
	for _, s := range st.Streams {
		for _, c := range s.Consumers {
			if (c.Name == "featurizer" || c.Name == "embedder") && (c.Pending != 0 || c.AckPending != 0) {
				t.Errorf("after reindex --wait, %s/%s has %d pending and %d unacked", s.Name, c.Name, c.Pending, c.AckPending)
			}
		}
	}
	if code, out, errOut := p.run(t, "reindex"); code != 0 || !strings.Contains(out, "queued 12 documents for reindexing; follow with twin status, or --wait") {
		t.Errorf("twin reindex = %d\n%s%s", code, out, errOut)
	}
}
