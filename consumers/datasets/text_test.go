package datasets

import (
	"strings"
	"testing"
)

// prose is n sentences of about 90 bytes, numbered so that none repeats.
func prose(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strings.ToUpper(prefix[:1]) + prefix[1:])
		b.WriteString(" sentence number ")
		b.WriteString(strings.Repeat("x", i%7+1))
		b.WriteString(" explains how a durable queue keeps messages until a consumer acknowledges them.")
	}
	return b.String()
}

func TestExtractsStayWithinBoundsAndEndAtSentenceEnds(t *testing.T) {
	t.Parallel()
	code := "```go\n" + strings.Repeat("fmt.Println(\"a line of code. Not a sentence end\")\n", 12) + "```"
	cases := []struct {
		name    string
		content string
		want    int // extracts at least
		skipped int // pieces left out, at least (a short tail may be too)
	}{
		{"long prose", prose("alpha", 60), 3, 0},
		{"headed sections", "# One\n\n" + prose("beta", 14) + "\n\n## Two\n\n" + prose("gamma", 14) + "\n\n## Three\n\n" + prose("delta", 14), 2, 0},
		{"code between paragraphs", prose("eps", 10) + "\n\n" + code + "\n\n" + prose("zeta", 10), 1, 0},
		{"short document is one extract", prose("eta", 4), 1, 0},
		{"code longer than an extract is left out", prose("theta", 15) + "\n\n```\n" + strings.Repeat("y", MaxExtractChars+1) + "\n```\n\n" + prose("iota", 15), 2, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, skipped := Extracts("d", "T", c.content, 200)
			if len(got) < c.want || skipped < c.skipped {
				t.Fatalf("%d extracts, %d skipped; want at least %d and %d skipped", len(got), skipped, c.want, c.skipped)
			}
			for i, e := range got {
				if len(e.Text) > MaxExtractChars {
					t.Errorf("extract %d is %d bytes, above %d", i, len(e.Text), MaxExtractChars)
				}
				if len(got) > 1 && len(e.Text) < MinExtractChars {
					t.Errorf("extract %d is %d bytes, below %d", i, len(e.Text), MinExtractChars)
				}
				if strings.Count(e.Text, "```")%2 != 0 {
					t.Errorf("extract %d cuts a code block:\n%s", i, e.Text)
				}
				end := strings.TrimSpace(e.Text)
				if !strings.HasSuffix(end, ".") && !strings.HasSuffix(end, "```") {
					t.Errorf("extract %d does not end at a sentence end or a code block: ...%q", i, end[max(0, len(end)-40):])
				}
				if !strings.Contains(c.content, strings.Fields(e.Text)[0]) {
					t.Errorf("extract %d starts with a word the document does not hold", i)
				}
			}
		})
	}
}

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"One. Two! Three?", []string{"One.", "Two!", "Three?"}},
		{"Use e.g. Go. It works.", []string{"Use e.g. Go.", "It works."}},
		{"Version 3.14 is out. See example.com now.", []string{"Version 3.14 is out.", "See example.com now."}},
		{"He said \"stop.\" Then left.", []string{"He said \"stop.\"", "Then left."}},
		{"Wait... and see. Done.", []string{"Wait... and see.", "Done."}},
		{"no stop at all", []string{"no stop at all"}},
	}
	for _, c := range cases {
		got := splitSentences(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("splitSentences(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSectionsAreHeadingsWithTheTextUnderThem(t *testing.T) {
	t.Parallel()
	content := "Intro without a heading.\n\n# First\n\nText one. More.\n\n```\ncode\n```\n\n## Empty\n\n## Second?\n\nText two."
	got := Sections(content)
	want := []Section{{"First", "Text one. More.\n\n```\ncode\n```"}, {"Second?", "Text two."}}
	if len(got) != len(want) {
		t.Fatalf("Sections = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("section %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSentenceShaped(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"This is a sentence.":             true,
		"Is it a question?":               true,
		"\"Quoted, it ends.\"":            true,
		"lowercase start is not.":         false,
		"No end punctuation here":         false,
		"Two words.":                      false,
		"```\ncode block\n```":            false,
		"It ends in a list:\n- a\n- b":    false,
		"2024 was the year it happened.":  true,
		"   Leading space is fine too.  ": true,
	}
	for s, want := range cases {
		if got := sentenceShaped(s); got != want {
			t.Errorf("sentenceShaped(%q) = %v, want %v", s, got, want)
		}
	}
}
