package llm

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitSentencesCutsAtStopsAndLineBreaks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		want []string
	}{
		{"stops", "Go is fast. Is it simple? Yes! It is.",
			[]string{"Go is fast.", "Is it simple?", "Yes!", "It is."}},
		{"abbreviations stay inside", "Use a queue, e.g. NATS or Kafka. Dr. Smith agrees. J. R. R. Tolkien wrote it.",
			[]string{"Use a queue, e.g. NATS or Kafka.", "Dr. Smith agrees.", "J. R. R. Tolkien wrote it."}},
		{"a lowercase word continues", "Apples, pears, etc. and more. Next one.",
			[]string{"Apples, pears, etc. and more.", "Next one."}},
		{"etc. can end a sentence", "Apples, pears, etc. Then bread.",
			[]string{"Apples, pears, etc.", "Then bread."}},
		{"numbers, names and paths do not stop", "Version 3.14 of example.com runs main.go. Done.",
			[]string{"Version 3.14 of example.com runs main.go.", "Done."}},
		{"closing quotes and brackets stay with the stop", `He said "stop." (Really.) Then left.`,
			[]string{`He said "stop."`, "(Really.)", "Then left."}},
		{"ellipsis and ?!", "Wait... What?! Fine.", []string{"Wait...", "What?!", "Fine."}},
		{"hard-wrapped prose is one sentence", "This sentence is wrapped\nacross two lines. Next.",
			[]string{"This sentence is wrapped\nacross two lines.", "Next."}},
		{"blank lines and list items cut", "Title\n\nThe body goes here\n- one item\n- two items",
			[]string{"Title", "The body goes here", "- one item", "- two items"}},
		// Code is quoted badly but safely: a line that starts in lowercase
		// reads as wrapped prose.
		{"code lines", "func main() {\n\tfmt.Println(\"hi\")\n}", []string{"func main() {\n\tfmt.Println(\"hi\")", "}"}},
		{"CRLF", "One.\r\nTwo.\r\n", []string{"One.", "Two."}},
		{"nothing", " \n\t ", nil},
		{"no stop at all", "just words without an end", []string{"just words without an end"}},
		{"unicode", "Ça marche. Über alles! 日本語。", []string{"Ça marche.", "Über alles!", "日本語。"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := splitSentences(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("splitSentences(%q)\n got %q\nwant %q", tc.text, got, tc.want)
			}
		})
	}
}

// TestSplitSentencesKeepsEveryWord is the promise the extractive answerer
// quotes on: the sentences hold exactly the words of the text, in order.
func TestSplitSentencesKeepsEveryWord(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"A. B. C.", "x.\u00a0Y", "end.\u2003Next", "a!b? c.D e", "\"Quoted.\"\u201d Next", "...", "?!?! X",
		"if (x) { return; }\nelse { y(); }", "e.g. E.g. I.e. i.e.", "1. First\n2. Second",
	} {
		var got []string
		for _, s := range splitSentences(text) {
			got = append(got, strings.Fields(s)...)
		}
		if want := strings.Fields(text); !slices.Equal(got, want) {
			t.Errorf("splitSentences(%q) words %q, want %q", text, got, want)
		}
	}
}

// TestSplitSentencesIsLinear feeds texts that a careless splitter scans
// again and again (long runs of stops, spaces, line breaks, letters
// between stops), to the splitter and to the whole extractive answerer.
// Each is 256 KB: linear time is milliseconds, quadratic minutes.
func TestSplitSentencesIsLinear(t *testing.T) {
	t.Parallel()
	const n = 256 << 10
	for name, text := range map[string]string{
		"dots":                        strings.Repeat(".", n) + "x",
		"dots and a space at the end": strings.Repeat(".", n) + " x",
		"spaces after a stop":         "a." + strings.Repeat(" ", n) + "b",
		"line breaks":                 strings.Repeat("\n", n),
		"spaced line breaks":          strings.Repeat("\n ", n/2),
		"letters and dots":            strings.Repeat("a.", n/2) + " ",
		"one long word":               strings.Repeat("a", n) + ". B",
	} {
		start := time.Now()
		splitSentences(text)
		NewExtractive().compose("a b x", passages(text, text))
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: %v for %d bytes", name, d, len(text))
		}
	}
}
