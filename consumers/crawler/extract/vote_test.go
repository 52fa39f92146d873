package extract

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestDropUnconfirmed(t *testing.T) {
	t.Parallel()
	long := "This line has more than twenty words in it, so it is prose and stays whatever the other extractors say about it here."
	other := voters{texts: []wordIndex{newWordIndex("Ninety-nine ways to cook rice. - Rinse it first. Subscribe? no")}}
	tests := []struct {
		name string
		text string
		v    voters
		want string
	}{
		{"a confirmed line stays", "Ninety-nine ways to cook rice.", other, "Ninety-nine ways to cook rice."},
		{"case and punctuation do not matter", "NINETY-NINE ways: to cook, rice", other, "NINETY-NINE ways: to cook, rice"},
		{"an unconfirmed short line goes", "Ninety-nine ways to cook rice.\n\nSign up for our newsletter!", other, "Ninety-nine ways to cook rice."},
		{"a line found only in part goes", "Ninety-nine ways to cook rice today", other, ""},
		{"a long line stays unconfirmed", long + "\n\nSign up now", other, long},
		{"one line of a list goes, the list stays", "- Rinse it first.\n- Share on Facebook\n\nNinety-nine ways to cook rice.", other, "- Rinse it first.\n\nNinety-nine ways to cook rice."},
		{"a removed paragraph leaves one blank line", "Ninety-nine ways to cook rice.\n\nFollow us\n\n- Rinse it first.", other, "Ninety-nine ways to cook rice.\n\n- Rinse it first."},
		{"a line without words stays", "Ninety-nine ways to cook rice.\n* * *\n- Rinse it first.", other, "Ninety-nine ways to cook rice.\n* * *\n- Rinse it first."},
		{"without voters nothing goes", "Sign up for our newsletter!", voters{}, "Sign up for our newsletter!"},
		{"a paragraph left without words goes", "Ninety-nine ways to cook rice.\n\n- Share\n- /", other, "Ninety-nine ways to cook rice."},
		{"what stays is kept byte for byte", "Ninety-nine ways to cook rice.\n\n\n  * * *\n\nFollow us", other, "Ninety-nine ways to cook rice.\n\n\n  * * *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := dropUnconfirmed(tt.text, tt.v, nil); got != tt.want {
				t.Errorf("dropUnconfirmed(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestDropUnconfirmedKeepsCode(t *testing.T) {
	t.Parallel()
	doc, err := html.Parse(strings.NewReader("<div><p>Ninety-nine ways to cook rice.</p><pre>rinse(rice)\n\ncook(rice, 20)</pre><p>Follow us</p></div>"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSpace(renderText(doc))
	other := voters{texts: []wordIndex{newWordIndex("Ninety-nine ways to cook rice.")}}
	want := "Ninety-nine ways to cook rice.\n\nrinse(rice)\n\ncook(rice, 20)"
	if got := dropUnconfirmed(text, other, codeLines(doc)); got != want {
		t.Errorf("with the code lines = %q, want %q", got, want)
	}
	if got := dropUnconfirmed(text, other, nil); got != "Ninety-nine ways to cook rice." {
		t.Errorf("without them = %q, want the code gone too", got)
	}
}

// TestRunVotersLeavesThePageAlone: trafilatura reads the same tree after
// the voters, so they must not change it.
func TestRunVotersLeavesThePageAlone(t *testing.T) {
	t.Parallel()
	doc, err := parse([]byte(article(paragraphs(para1, para2, para3))), "")
	if err != nil {
		t.Fatal(err)
	}
	before := renderText(doc)
	v := runVoters(doc, nil)
	if after := renderText(doc); after != before {
		t.Fatalf("the page changed:\n%s\n---\n%s", before, after)
	}
	if len(v.texts) != 2 || v.readability == nil || v.distiller == nil {
		t.Fatalf("want both extractors' results, got %d texts", len(v.texts))
	}
	for _, idx := range v.texts {
		if !idx.holds(strings.Fields(wordKey(para2))) {
			t.Errorf("a voter lacks the body: %q", strings.Join(idx.words, " "))
		}
	}
}

func TestWordIndexHolds(t *testing.T) {
	t.Parallel()
	idx := newWordIndex("Rinse the rice. Rinse it again, then cook the rice slowly")
	tests := []struct {
		line string
		want bool
	}{
		{"rinse", true},
		{"slowly", true}, // the last word
		{"boil", false},
		{"Rinse it again", true},
		{"rinse the rice rinse", true}, // across a sentence end
		{"the rice slowly", true},      // the second of two places
		{"the rice quickly", false},
		{"cook the rice slowly please", false}, // runs past the end
		{"", false},
	}
	for _, tt := range tests {
		if got := idx.holds(strings.Fields(wordKey(tt.line))); got != tt.want {
			t.Errorf("holds(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
