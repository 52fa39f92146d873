package featurizer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/models/tokenizer"
	"github.com/twin-llm/twin/internal/tiltest"
	"github.com/twin-llm/twin/schemas"
)

func newTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.New()
	if err != nil {
		t.Fatalf("tokenizer.New: %v", err)
	}
	return tok
}

// checkChunks fails the test unless chunks keep the promises ChunkText
// makes for any text: at most Size tokens each, as the tokenizer counts
// the chunk's own text; texts that are slices of text, in order, each
// reaching further; nothing with a token left out; and, with an overlap,
// consecutive chunks sharing text.
func checkChunks(t testing.TB, tok *tokenizer.Tokenizer, text string, p ChunkParams, chunks []Chunk) {
	t.Helper()
	p = p.sane()
	n := tok.Count(text)
	switch {
	case n == 0 && len(chunks) > 0:
		t.Fatalf("%d chunks of a text without tokens %q", len(chunks), text)
	case n == 0:
		return
	case len(chunks) == 0:
		t.Fatalf("no chunks of a text of %d tokens %.100q", n, text)
	case n <= p.Size && len(chunks) != 1:
		t.Fatalf("%d chunks of a text of %d tokens, which fits one of %d", len(chunks), n, p.Size)
	}
	if c := tok.Count(text[:chunks[0].Start]); c != 0 {
		t.Fatalf("%d tokens before the first chunk: %q", c, text[:chunks[0].Start])
	}
	if last := chunks[len(chunks)-1]; tok.Count(text[last.End:]) != 0 {
		t.Fatalf("tokens after the last chunk: %q", text[last.End:])
	}
	for i, ch := range chunks {
		if ch.Index != i {
			t.Fatalf("chunk %d has index %d", i, ch.Index)
		}
		if ch.Start < 0 || ch.End > len(text) || ch.Start >= ch.End || ch.Text != text[ch.Start:ch.End] {
			t.Fatalf("chunk %d [%d:%d] %q is not a slice of the %d-byte text", i, ch.Start, ch.End, ch.Text, len(text))
		}
		if got := tok.Count(ch.Text); got != ch.Tokens || ch.Tokens > p.Size || ch.Tokens < 1 {
			t.Fatalf("chunk %d says %d tokens, its text has %d, the most is %d: %q", i, ch.Tokens, got, p.Size, ch.Text)
		}
		if i == 0 {
			continue
		}
		prev := chunks[i-1]
		if ch.Start <= prev.Start || ch.End <= prev.End {
			t.Fatalf("chunk %d [%d:%d] does not move on from chunk %d [%d:%d]", i, ch.Start, ch.End, i-1, prev.Start, prev.End)
		}
		if ch.Start > prev.End {
			if c := tok.Count(text[prev.End:ch.Start]); c != 0 {
				t.Fatalf("%d tokens between chunks %d and %d: %q", c, i-1, i, text[prev.End:ch.Start])
			}
		}
		// Chunks share text, unless the first is a single token, or
		// the second is one word that fills a window (which no window
		// could hold with some of the first).
		if p.Overlap > 0 && prev.Tokens > 1 && ch.Start >= prev.End && !(ch.Tokens == p.Size && oneWord(tok, ch.Text)) {
			t.Fatalf("chunks %d and %d share nothing, with an overlap of %d:\n%q\n%q", i-1, i, p.Overlap, prev.Text, ch.Text)
		}
	}
}

// oneWord reports whether the tokens of text after the first are all
// continuation pieces.
func oneWord(tok *tokenizer.Tokenizer, text string) bool {
	for _, x := range tok.Tokenize(text)[1:] {
		if !strings.HasPrefix(x.Text, "##") {
			return false
		}
	}
	return true
}

// wordBoundaries checks that chunks start and end between words, and
// returns how many of their ends are at a space (or the text's ends),
// out of how many.
func wordBoundaries(t testing.TB, tok *tokenizer.Tokenizer, text string, chunks []Chunk) (spaced, all int) {
	t.Helper()
	toks := tok.Tokenize(text)
	// pieceAt reports whether the first token at or after offset is a
	// continuation piece: the offset is inside a word.
	pieceAt := func(offset int) bool {
		i := sort.Search(len(toks), func(i int) bool { return toks[i].Start >= offset })
		return i < len(toks) && strings.HasPrefix(toks[i].Text, "##")
	}
	for i, ch := range chunks {
		if pieceAt(ch.Start) || pieceAt(ch.End) {
			t.Errorf("chunk %d [%d:%d] starts or ends inside a word: %q", i, ch.Start, ch.End, ch.Text)
		}
		before, _ := utf8.DecodeLastRuneInString(text[:ch.Start])
		after, _ := utf8.DecodeRuneInString(text[ch.End:])
		for _, r := range []rune{before, after} {
			all++
			if r == utf8.RuneError || unicode.IsSpace(r) {
				spaced++
			}
		}
	}
	return spaced, all
}

func TestChunkInvariantsOnRealText(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	texts := tiltest.Texts(t, 1000)
	for _, cat := range []string{CategoryArticles, CategoryPosts, CategoryRepositories} {
		for _, p := range []ChunkParams{DefaultParams(cat), {Strategy: DefaultParams(cat).Strategy, Size: 48, Overlap: 8}} {
			t.Run(fmt.Sprintf("%s/%d/%d", cat, p.Size, p.Overlap), func(t *testing.T) {
				t.Parallel()
				var spaced, all, pairs, shared, most, chunks, docs int
				for i, raw := range texts {
					if p.Size < 128 && i%4 != 0 {
						continue // small windows: a sample is enough
					}
					docs++
					text := Clean(raw, cat, CleanOptions{})
					got := ChunkText(text, tok, p)
					checkChunks(t, tok, text, p, got)
					if p.Size >= 128 {
						// No word is longer than such a window
						// (WordPiece makes a word of more than 100
						// characters one [UNK]), so no cut need
						// fall inside one.
						s, a := wordBoundaries(t, tok, text, got)
						spaced, all = spaced+s, all+a
					}
					chunks += len(got)
					for i := 1; i < len(got); i++ {
						n := tok.Count(text[got[i].Start:got[i-1].End])
						pairs, shared, most = pairs+1, shared+n, max(most, n)
					}
				}
				mean := float64(shared) / float64(max(pairs, 1))
				t.Logf("%d texts, %d chunks; overlap mean %.1f tokens, most %d", docs, chunks, mean, most)
				if all > 0 {
					t.Logf("%d of %d chunk ends at a space (the others at punctuation)", spaced, all)
				}
				if mean < float64(p.Overlap)/2 || mean > 1.5*float64(p.Overlap) {
					t.Errorf("mean overlap %.1f tokens, want about %d", mean, p.Overlap)
				}
				if float64(spaced) < 0.9*float64(all) {
					t.Errorf("only %d of %d chunk ends are at a space", spaced, all)
				}
			})
		}
	}
}

// generatedText returns a document of paragraphs of sentences of words
// from a small vocabulary, with some code, CJK, long words and URLs, the
// same for the same seed.
func generatedText(seed uint64, paragraphs int) string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := strings.Fields("the model cuts every document into windows of tokens so that retrieval finds " +
		"passages quickly unbelievable tokenization café naïve résumé 東京 data-driven " +
		"it's (maybe) \"quoted\" 3.14 2024-05-01 CamelCaseIdentifier snake_case_name")
	var b strings.Builder
	for p := range paragraphs {
		if p > 0 {
			b.WriteString("\n\n")
		}
		switch rng.IntN(8) {
		case 0:
			b.WriteString("```go\n")
			for l := range 3 + rng.IntN(20) {
				fmt.Fprintf(&b, "%sx%d := compute(%q, %d) // step\n", strings.Repeat("\t", l%3), l, words[rng.IntN(len(words))], l)
			}
			b.WriteString("```")
			continue
		case 1:
			b.WriteString(strings.Repeat("東京は大きい。", 1+rng.IntN(40)))
			continue
		case 2:
			b.WriteString("https://example.com/" + strings.Repeat("segment/", 1+rng.IntN(30)) + " and ")
		case 3:
			b.WriteString(strings.Repeat("xyzzy", 10+rng.IntN(30)) + " ")
		}
		for s := range 1 + rng.IntN(12) {
			if s > 0 {
				b.WriteString(" ")
			}
			for w := range 3 + rng.IntN(25) {
				if w > 0 {
					b.WriteString(" ")
				}
				b.WriteString(words[rng.IntN(len(words))])
			}
			b.WriteString([]string{".", "!", "?", ".\"", "."}[rng.IntN(5)])
		}
	}
	return b.String()
}

func TestChunkInvariantsOnGeneratedText(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	for seed := range uint64(50) {
		text := generatedText(seed, 1+int(seed%25))
		for _, p := range []ChunkParams{
			DefaultParams(CategoryArticles),
			DefaultParams(CategoryPosts),
			DefaultParams(CategoryRepositories),
			{Size: 16, Overlap: 4},
			{Size: 20, Overlap: 10, Strategy: StrategyCode},
			{Size: 1}, // MinSize
		} {
			got := ChunkText(text, tok, p)
			checkChunks(t, tok, text, p, got)
		}
	}
}

func TestChunkShortAndEmptyTexts(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	p := DefaultParams(CategoryPosts)
	for _, text := range []string{"", " ", "\n\n\t ", "\u200b\x00"} {
		if got := ChunkText(text, tok, p); len(got) != 0 {
			t.Errorf("ChunkText(%q) = %+v, want no chunks", text, got)
		}
	}
	tests := []struct{ text, want string }{
		{"Hello, world!", "Hello, world!"},
		{"\n\nShort post.\n\n", "Short post."},
		{"  \n Indented.\n\n", " Indented."}, // the indentation of its line
		{"🎉", "🎉"},                           // one [UNK]: still a chunk
		{"    indented code()", "    indented code()"},
	}
	for _, tt := range tests {
		got := ChunkText(tt.text, tok, p)
		if len(got) != 1 || got[0].Text != tt.want || got[0].Tokens != tok.Count(tt.text) || got[0].Index != 0 {
			t.Errorf("ChunkText(%q) = %+v, want one chunk %q of %d tokens", tt.text, got, tt.want, tok.Count(tt.text))
		}
	}
}

func TestChunkExactSize(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	// "word " is one token each.
	p := ChunkParams{Size: 20, Overlap: 4}
	exact := strings.TrimSpace(strings.Repeat("word ", 20))
	if got := ChunkText(exact, tok, p); len(got) != 1 || got[0].Tokens != 20 || got[0].Text != exact {
		t.Errorf("a text of exactly Size tokens gave %+v, want one chunk of it all", got)
	}
	over := exact + " word"
	got := ChunkText(over, tok, p)
	if len(got) != 2 {
		t.Fatalf("a text of Size+1 tokens gave %d chunks, want 2", len(got))
	}
	checkChunks(t, tok, over, p, got)
	if got[1].Tokens < 2 {
		t.Errorf("second chunk %+v shares nothing with the first", got[1])
	}
}

func TestChunkEnormousWord(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	// Over 100 characters, a word is one [UNK] however long: one chunk.
	huge := strings.Repeat("x", 50000)
	if got := ChunkText("before "+huge+" after", tok, ChunkParams{Size: 16, Overlap: 2}); len(got) != 1 || got[0].Tokens != 3 {
		t.Errorf("a 50,000-character word gave %d chunks, want 1 of 3 tokens", len(got))
	}
	// A word of 100 characters is 50 pieces: a window of 16 must cut it.
	word := strings.Repeat("x", 100)
	text := "start " + word + " end"
	p := ChunkParams{Size: 16, Overlap: 4}
	got := ChunkText(text, tok, p)
	checkChunks(t, tok, text, p, got)
	if len(got) < 4 {
		t.Errorf("a word of 50 pieces with windows of 16 gave %d chunks", len(got))
	}
	// Punctuation without spaces (a long URL) is cut at the punctuation.
	url := "https://example.com/" + strings.Repeat("abc/", 100)
	got = ChunkText(url, tok, p)
	checkChunks(t, tok, url, p, got)
	for _, ch := range got[1:] {
		if strings.HasPrefix(tok.Tokenize(ch.Text)[0].Text, "##") {
			t.Errorf("chunk %q of a URL starts inside a word", ch.Text)
		}
	}
}

func TestChunkPrefersParagraphsThenSentencesThenWords(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	sentence := func(n int) string { return strings.Repeat("word ", n-1) + "end." } // n tokens + "."
	p := ChunkParams{Size: 40, Overlap: 0}
	tests := []struct {
		name, text, first string
	}{
		{"paragraph break over a later sentence end",
			sentence(22) + "\n\n" + sentence(8) + " " + sentence(30),
			sentence(22)},
		{"sentence end over a later space",
			sentence(25) + " " + strings.Repeat("more ", 40),
			sentence(25)},
		{"sentence end in the second quarter over a space",
			sentence(12) + " " + strings.Repeat("more ", 40),
			sentence(12)},
		{"space when the sentence end is too early",
			sentence(5) + " " + strings.Repeat("more ", 40),
			sentence(5) + " " + strings.TrimSpace(strings.Repeat("more ", 34))},
		{"the latest of equal boundaries",
			sentence(10) + " " + sentence(10) + " " + sentence(10) + " " + sentence(30),
			sentence(10) + " " + sentence(10) + " " + sentence(10)},
		{"closing quote after the full stop",
			strings.Repeat("word ", 20) + `"quoted end." ` + strings.Repeat("more ", 40),
			strings.Repeat("word ", 20) + `"quoted end."`},
		// 東 京 は 大 き ##い 。: 7 tokens a sentence.
		{"CJK full stop needs no space",
			strings.Repeat("東京は大きい。", 4) + strings.Repeat("京", 40),
			strings.Repeat("東京は大きい。", 4)},
	}
	for _, tt := range tests {
		got := ChunkText(tt.text, tok, p)
		checkChunks(t, tok, tt.text, p, got)
		if got[0].Text != tt.first {
			t.Errorf("%s: first chunk\n %q\nwant\n %q", tt.name, got[0].Text, tt.first)
		}
	}
}

func TestChunkCodeAtLineBreaks(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	var b strings.Builder
	b.WriteString("## main.go\n\n```go\n")
	for i := range 200 {
		fmt.Fprintf(&b, "\tif value%d := lookup(table, \"key %d\"); value%d != nil { return value%d }\n", i, i, i, i)
	}
	b.WriteString("```\n")
	text := Clean(b.String(), CategoryRepositories, CleanOptions{})
	p := DefaultParams(CategoryRepositories)
	got := ChunkText(text, tok, p)
	checkChunks(t, tok, text, p, got)
	if len(got) < 5 {
		t.Fatalf("%d chunks of %d tokens, want several", len(got), tok.Count(text))
	}
	for i, ch := range got {
		if ch.Start > 0 && text[ch.Start-1] != '\n' {
			t.Errorf("chunk %d does not start at the start of a line: %.60q", i, ch.Text)
		}
		if ch.End < len(text) && text[ch.End] != '\n' {
			t.Errorf("chunk %d does not end at the end of a line: ...%q", i, ch.Text[max(0, len(ch.Text)-60):])
		}
		if i > 0 && !strings.HasPrefix(ch.Text, "\tif") {
			t.Errorf("chunk %d lost its indentation: %.30q", i, ch.Text)
		}
	}
	// The same code as prose is still cut between lines when it can be.
	got = ChunkText(text, tok, DefaultParams(CategoryArticles))
	for i, ch := range got {
		if ch.End < len(text) && text[ch.End] != '\n' {
			t.Errorf("text strategy: chunk %d does not end at the end of a line", i)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		category string
		want     ChunkParams
	}{
		{CategoryArticles, ChunkParams{StrategyText, "all-MiniLM-L6-v2", 254, 32}},
		{"article", ChunkParams{StrategyText, "all-MiniLM-L6-v2", 254, 32}},
		{CategoryPosts, ChunkParams{StrategyText, "all-MiniLM-L6-v2", 128, 16}},
		{CategoryRepositories, ChunkParams{StrategyCode, "all-MiniLM-L6-v2", 254, 48}},
	}
	for _, tt := range tests {
		if got := DefaultParams(tt.category); got != tt.want {
			t.Errorf("DefaultParams(%q) = %+v, want %+v", tt.category, got, tt.want)
		}
	}
	// The model reads 256 pieces, [CLS] and [SEP] included: every
	// default chunk fits whole.
	for _, cat := range []string{CategoryArticles, CategoryPosts, CategoryRepositories} {
		if p := DefaultParams(cat); p.Size+2 > 256 {
			t.Errorf("%s: chunks of %d tokens do not fit the model's 256", cat, p.Size)
		}
	}
	b, err := json.Marshal(DefaultParams(CategoryArticles))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"strategy":"text","tokenizer":"all-MiniLM-L6-v2","size":254,"overlap":32}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	if got, want := DefaultParams(CategoryPosts).Chunking(), (schemas.Chunking{Strategy: "text", Tokenizer: "all-MiniLM-L6-v2", Size: 128, Overlap: 16}); got != want {
		t.Errorf("Chunking() = %+v, want %+v", got, want)
	}
}

func TestChunkParamsOutOfRange(t *testing.T) {
	t.Parallel()
	tok := newTokenizer(t)
	text := generatedText(7, 30)
	for _, p := range []ChunkParams{
		{},
		{Size: -5, Overlap: -1},
		{Size: 10, Overlap: 10},
		{Size: 10, Overlap: 1000, Strategy: "unknown"},
		{Size: 1, Overlap: 1},
	} {
		got := ChunkText(text, tok, p)
		checkChunks(t, tok, text, p, got)
	}
	tests := []struct{ in, want ChunkParams }{
		{ChunkParams{Size: 100, Overlap: 90}, ChunkParams{StrategyText, tokenizer.Name, 100, 50}},
		{ChunkParams{Size: 100, Overlap: -3, Strategy: "x"}, ChunkParams{StrategyText, tokenizer.Name, 100, 0}},
		{ChunkParams{Size: 0, Strategy: StrategyCode, Tokenizer: "other"}, ChunkParams{StrategyCode, tokenizer.Name, 254, 0}},
		{ChunkParams{Size: 3, Overlap: 3}, ChunkParams{StrategyText, tokenizer.Name, MinSize, 3}},
	}
	for _, tt := range tests {
		if got := tt.in.sane(); got != tt.want {
			t.Errorf("%+v.sane() = %+v, want %+v", tt.in, got, tt.want)
		}
		// What is recorded is what was applied.
		want := schemas.Chunking{Strategy: tt.want.Strategy, Tokenizer: tt.want.Tokenizer, Size: tt.want.Size, Overlap: tt.want.Overlap}
		if got := tt.in.Chunking(); got != want {
			t.Errorf("%+v.Chunking() = %+v, want %+v", tt.in, got, want)
		}
	}
}
