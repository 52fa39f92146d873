package featurizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"",
	"Hello, world!",
	"First.\n\n\nSecond paragraph 🎉 with 𝐛𝐨𝐥𝐝 and https://example.com/x).",
	"## main.go\n\n```go\nfunc main() {\n\tprintln(\"hi\")\n}\n```\n",
	"````\n```\n`````\n~~~\n   ```x`y\n",
	"東京は大きい。東京は大きい。" + strings.Repeat("京", 30),
	strings.Repeat("x", 120) + " " + strings.Repeat("ab", 50) + " end.",
	"www.(http://a)com www.http://b.com <ftp://c> [d](https://e.f/g_(h))",
	"a\r\nb\rc\u2028d\u2029e\u0085f\vg\fh",
	"\xff\xfe\x00\x01 \u200b\u200d\ufe0f\U000E0067 \ufffd\uf000",
	"𝟏𝟐𝟑 ①⑴⒈ ❶ 🅰🄰🅐 ＡＢＣ ﬃ ℎ ℝ",
}

// FuzzClean checks that Clean never panics, always returns valid UTF-8,
// and is idempotent, whatever the text, category and options.
func FuzzClean(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i), uint8(i/3), i%2 == 0)
	}
	categories := []string{CategoryArticles, CategoryPosts, CategoryRepositories}
	modes := []string{URLKeep, URLReplace, URLDrop}
	f.Fuzz(func(t *testing.T, text string, category, urls uint8, ascii bool) {
		cat := categories[int(category)%len(categories)]
		opts := CleanOptions{URLs: modes[int(urls)%len(modes)], ASCIIPunctuation: ascii}
		once := Clean(text, cat, opts)
		if !utf8.ValidString(once) {
			t.Fatalf("Clean(%q, %s, %+v) = %q: not valid UTF-8", text, cat, opts, once)
		}
		if twice := Clean(once, cat, opts); twice != once {
			t.Fatalf("Clean is not idempotent (%s, %+v) on %q:\nonce  %q\ntwice %q", cat, opts, text, once, twice)
		}
		if strings.HasPrefix(once, "\n") || strings.HasSuffix(once, "\n") || strings.Contains(once, "\r") {
			t.Fatalf("Clean(%q) = %q: line breaks at the ends, or a CR", text, once)
		}
	})
}

// FuzzChunk checks that ChunkText never panics and keeps its promises
// (see checkChunks), on raw and on cleaned text.
func FuzzChunk(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint16(16+i*7), uint16(i*3), i%2 == 0)
	}
	tok := newTokenizer(f)
	f.Fuzz(func(t *testing.T, text string, size, overlap uint16, code bool) {
		p := ChunkParams{Size: int(size % 300), Overlap: int(overlap % 200)}
		if code {
			p.Strategy = StrategyCode
		}
		checkChunks(t, tok, text, p, ChunkText(text, tok, p))
		cleaned := Clean(text, CategoryRepositories, CleanOptions{})
		checkChunks(t, tok, cleaned, p, ChunkText(cleaned, tok, p))
	})
}
