package main

import (
	"strings"
	"testing"
)

func TestAnswerWriterKeepsParagraphsAndCodeForTheTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, answer, want string
	}{
		{
			name: "paragraphs, heading, list, code, links",
			answer: "Here is what I wrote about this in “Bench”:\n\n# Errors\n\n" +
				"Thanks to [Stack Overflow](https://stackoverflow.com/q/1) I learned **why** [1].\n\n" +
				"Run it like this [1]:\n\n```sh\nab -l -n 1000 \\\n  'http://127.0.0.1:8002/'\n```\n\n- one `a b` item\n- two \\[2] items [2].",
			want: "Here is what I wrote about this in “Bench”:\n\nErrors\n\n" +
				"Thanks to Stack Overflow (https://stackoverflow.com/q/1) I learned why [1].\n\n" +
				"Run it like this [1]:\n\n    ab -l -n 1000 \\\n      'http://127.0.0.1:8002/'\n\n- one `a b` item\n- two [2] items [2].\n",
		},
		{
			name:   "plain text, no line break at its end",
			answer: "one two three four five.",
			want:   "one two three four five.\n",
		},
		{
			name:   "an image is its alt text, a bare link its URL",
			answer: "See ![the chart](https://x/c.png) and [https://x/a](https://x/a).",
			want:   "See the chart and https://x/a.\n",
		},
		{
			name:   "backticks closed on their line are a code span, not a fence",
			answer: "```x := 1```\n\nAfter it.",
			want:   "```x := 1```\n\nAfter it.\n",
		},
		{
			name:   "an unclosed fence prints its code",
			answer: "Code:\n\n~~~\nx := 1\n",
			want:   "Code:\n\n    x := 1\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			splits := map[string][]string{
				"whole":     {tc.answer},
				"bytes":     strings.Split(tc.answer, ""),
				"words":     strings.SplitAfter(tc.answer, " "),
				"lines":     strings.SplitAfter(tc.answer, "\n"),
				"mid-fence": {tc.answer[:len(tc.answer)/2], tc.answer[len(tc.answer)/2:]},
			}
			for how, pieces := range splits {
				var b strings.Builder
				w := newAnswerWriter(&b)
				for _, p := range pieces {
					w.Write(p)
				}
				w.Flush()
				if got := b.String(); got != tc.want {
					t.Errorf("streamed as %s:\n got %q\nwant %q", how, got, tc.want)
				}
				if !w.Ended() {
					t.Errorf("streamed as %s: the output does not end its line", how)
				}
			}
		})
	}
}

func TestAnswerWriterPrintsProseBeforeItsLineEnds(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	w := newAnswerWriter(&b)
	w.Write("Durable consumers resume ")
	w.Write("where they [stop")
	if got := b.String(); got != "Durable consumers resume where they " {
		t.Errorf("printed %q before the line ended, want the words up to the open link", got)
	}
}

// FuzzAnswerWriter checks that no answer makes the terminal writer panic,
// and that how the answer is cut into tokens changes nothing it prints.
func FuzzAnswerWriter(f *testing.F) {
	f.Add("Lead:\n\n# H\n\nSee [a](http://x) **b** [1].\n\n```go\nx := 1\n```\n\n- item", 7)
	f.Add("[[[](", 1)
	f.Add("``` \n~~~\n`", 2)
	f.Fuzz(func(t *testing.T, answer string, cut int) {
		print := func(pieces ...string) string {
			var b strings.Builder
			w := newAnswerWriter(&b)
			for _, p := range pieces {
				w.Write(p)
			}
			w.Flush()
			return b.String()
		}
		whole := print(answer)
		if cut < 0 {
			cut = -cut
		}
		if len(answer) > 0 {
			cut %= len(answer)
		}
		if cut > len(answer) {
			cut = 0
		}
		if split := print(answer[:cut], answer[cut:]); split != whole {
			t.Errorf("cut at %d prints %q, whole %q", cut, split, whole)
		}
	})
}
