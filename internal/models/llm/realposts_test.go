package llm

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/consumers/featurizer"
	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/tiltest"
)

// post is one real blog post: its title and markdown.
type post struct{ title, text string }

// samplePosts are the twelve posts the repository carries
// (testdata/simonw-til, Apache-2.0, Simon Willison).
func samplePosts(t testing.TB) []post {
	t.Helper()
	f, err := os.Open("../../../testdata/simonw-til/til-sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []post
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var p struct{ Title, Text string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, post{p.Title, p.Text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// corpusPosts are up to n posts of the whole simonw-til corpus; the test
// skips when it is not there.
func corpusPosts(t testing.TB, n int) []post {
	t.Helper()
	var out []post
	for _, text := range tiltest.Texts(t, n) {
		title, _, _ := strings.Cut(text, "\n")
		out = append(out, post{strings.TrimSpace(strings.TrimLeft(title, "# ")), text})
	}
	return out
}

var (
	chunkTokOnce sync.Once
	chunkTok     *tokenizer.Tokenizer
	chunkTokErr  error
)

// chunks cuts a post as the featurizer does for an article: cleaned, then
// chunked with the articles' defaults.
func chunks(t testing.TB, text string) []string {
	t.Helper()
	chunkTokOnce.Do(func() { chunkTok, chunkTokErr = tokenizer.New() })
	if chunkTokErr != nil {
		t.Fatal(chunkTokErr)
	}
	clean := featurizer.Clean(text, featurizer.CategoryArticles, featurizer.CleanOptions{})
	var out []string
	for _, c := range featurizer.ChunkText(clean, chunkTok, featurizer.DefaultParams(featurizer.CategoryArticles)) {
		out = append(out, c.Text)
	}
	return out
}

// realRequest asks about posts[i] by its title, with the passages the chat
// would hand the answerer: up to three chunks of that post merged into one
// passage as the rag worker merges a document's chunks ("\n…\n"), then the
// first chunk of each of the next three posts.
func realRequest(t testing.TB, posts []post, i int) Request {
	t.Helper()
	cs := chunks(t, posts[i].text)
	ps := []Passage{{DocumentID: "doc0", Title: posts[i].title, Link: "https://example.com/0",
		Text: strings.Join(cs[:min(3, len(cs))], "\n…\n")}}
	for j := 1; j <= 3 && j < len(posts); j++ {
		o := posts[(i+j)%len(posts)]
		if cs := chunks(t, o.text); len(cs) > 0 {
			ps = append(ps, Passage{DocumentID: "doc" + string(rune('0'+j)), Title: o.title, Text: cs[0]})
		}
	}
	return Request{Question: posts[i].title, Passages: ps}
}

// BenchmarkExtractiveRealPosts measures one whole answer to a question
// about a real post, from four passages of real markdown (the twelve
// sample posts in turn).
func BenchmarkExtractiveRealPosts(b *testing.B) {
	posts := samplePosts(b)
	reqs := make([]Request, len(posts))
	for i := range posts {
		reqs[i] = realRequest(b, posts, i)
	}
	m := NewExtractive()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := Complete(context.Background(), m, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// checkAnswerShape fails unless answer reads as composed prose: the lead
// sentence, then paragraphs, lists, quotes and code blocks, no sentence
// twice, none cut, no markdown syntax left as text, every paragraph and
// list cited with the index of a passage it was given.
func checkAnswerShape(t *testing.T, answer string, passages int) {
	t.Helper()
	if answer == extractiveNothing {
		return
	}
	blocks := strings.Split(answer, "\n\n")
	if lead := blocks[0]; !strings.HasPrefix(lead, "Here is what I wrote about this") || strings.Contains(lead, "\n") {
		t.Errorf("the answer does not open with a one-line lead sentence: %q", answer)
	}
	seen := map[uint64]bool{}
	inCode, prevIntro := false, false
	for _, b := range blocks[1:] {
		if inCode || strings.HasPrefix(b, "```") {
			// A code block (blank lines inside it split it here): only
			// after a sentence that introduces it, and closed.
			if !inCode && !prevIntro {
				t.Errorf("code block %q follows no sentence that introduces it, in %q", b, answer)
			}
			fences := 0
			for _, l := range strings.Split(b, "\n") {
				if strings.HasPrefix(l, "```") {
					fences++
				}
			}
			if fences%2 == 1 {
				inCode = !inCode
			}
			prevIntro = false
			continue
		}
		introduced := prevIntro
		prevIntro = false
		if strings.Contains(b, "…") {
			t.Errorf("block %q joins fragments with an ellipsis", b)
		}
		if strings.Contains(b, "![") || htmlTag.MatchString(stripCodeSpans(b)) {
			t.Errorf("block %q holds an image or raw HTML", b)
		}
		lines := strings.Split(b, "\n")
		list := listLine.MatchString(lines[0])
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "#"):
				t.Errorf("line %q is a heading left as text", l)
			case list != listLine.MatchString(l):
				t.Errorf("block %q mixes list items and prose", b)
			}
		}
		cites := citationMark.FindAllString(b, -1)
		if !introduced && len(cites) != 1 {
			t.Errorf("block %q has %d citations, want one", b, len(cites))
		}
		for _, c := range cites {
			if n, _ := strconv.Atoi(strings.Trim(c, " []")); n < 1 || n > passages {
				t.Errorf("citation %s of %d passages", c, passages)
			}
		}
		text := strings.TrimPrefix(citationMark.ReplaceAllString(b, ""), "> ")
		if list {
			continue // items are quoted whole, with or without a stop
		}
		sentences := Sentences(text)
		for i, s := range sentences {
			key := foldText(s)
			if seen[key] {
				t.Errorf("sentence %q is repeated in %q", s, answer)
			}
			seen[key] = true
			if startsLikeFragment(s) && i == 0 && !introduced {
				t.Errorf("sentence %q starts as a fragment", s)
			}
		}
		last := sentences[len(sentences)-1]
		switch {
		case strings.HasSuffix(last, ":"):
			prevIntro = true
		case !endsSentence(last) && countWords(last) >= 3 && !introduced:
			t.Errorf("paragraph %q ends without a stop", b)
		}
	}
	if inCode {
		t.Errorf("a code block is not closed in %q", answer)
	}
	if prevIntro {
		t.Errorf("the answer ends with a sentence that introduces nothing: %q", answer)
	}
}

var (
	htmlTag  = regexp.MustCompile(`<[a-zA-Z/!][^>]*>`)
	listLine = regexp.MustCompile(`^([-*+]|[0-9]+\.) `)
	codeSpan = regexp.MustCompile("`[^`]*`")
)

func stripCodeSpans(s string) string { return codeSpan.ReplaceAllString(s, "") }

// realQuestions are the kinds of question asked about a post in the
// composer's tests on real posts.
var realQuestions = []struct {
	name string
	ask  func(title string) string
}{
	{"its title", func(title string) string { return title }},
	{"how-to", func(title string) string { return "How do I do this: " + strings.ToLower(title) + "?" }},
	{"stop words only", func(string) string { return "What do you think about it?" }},
}

func TestExtractiveComposesRealPostsAsProse(t *testing.T) {
	t.Parallel()
	for _, set := range []struct {
		name  string
		posts func(testing.TB) []post
	}{
		{"sample", samplePosts},
		{"corpus", func(tb testing.TB) []post {
			n := 300 // about 1.5 s, 8 s with -race
			if testing.Short() {
				n = 50
			}
			return corpusPosts(tb, n)
		}},
	} {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			posts := set.posts(t)
			m := NewExtractive()
			quoted := 0
			for i := range posts {
				for _, q := range realQuestions {
					req := realRequest(t, posts, i)
					req.Question = q.ask(posts[i].title)
					answer, _, err := Complete(context.Background(), m, req)
					if err != nil {
						t.Fatal(err)
					}
					if answer != extractiveNothing {
						quoted++
					}
					t.Run(q.name, func(t *testing.T) {
						checkQuotes(t, answer, req.Passages)
						checkAnswerShape(t, answer, len(req.Passages))
					})
				}
			}
			// A question about a post, asked with the post at hand, finds
			// something to quote almost always.
			if quoted < len(posts)*len(realQuestions)*9/10 {
				t.Errorf("%d of %d answers quote something, want at least 90%%", quoted, len(posts)*len(realQuestions))
			}
		})
	}
}
