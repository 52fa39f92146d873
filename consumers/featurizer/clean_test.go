package featurizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/tiltest"
)

func TestCleanKeepsParagraphsAndCollapsesSpaces(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"one blank line between paragraphs", "First.\n\n\n\nSecond.", "First.\n\nSecond."},
		{"blank lines of spaces", "First.\n  \t \n \nSecond.", "First.\n\nSecond."},
		{"line breaks inside a paragraph stay", "- one\n- two\n- three", "- one\n- two\n- three"},
		{"CRLF and CR", "a\r\nb\rc\r\n\r\nd", "a\nb\nc\n\nd"},
		{"vertical tab, form feed, NEL, LS", "a\vb\fc\u0085d\u2028e", "a\nb\nc\nd\ne"},
		{"paragraph separator", "a\u2029b", "a\n\nb"},
		{"blank lines at the ends go", "\n\n  \nText.\n\n\n", "Text."},
		{"runs of spaces collapse", "a    b \t c", "a b c"},
		{"lines are trimmed", "   indented\t \ntrailing   ", "indented\ntrailing"},
		{"unicode spaces", "a\u00a0b\u2003c\u3000d\u202fe", "a b c d e"},
		{"empty", "", ""},
		{"only spaces", " \t\n\n ", ""},
	}
	for _, tt := range tests {
		for _, cat := range []string{CategoryArticles, CategoryPosts} {
			if got := Clean(tt.in, cat, CleanOptions{}); got != tt.want {
				t.Errorf("%s: Clean(%q, %s) = %q, want %q", tt.name, tt.in, cat, got, tt.want)
			}
		}
	}
}

func TestCleanFoldsStyledLetters(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"bold", "𝐛𝐨𝐥𝐝 𝐁𝐎𝐋𝐃", "bold BOLD"},
		{"italic with h from letterlike symbols", "𝑡ℎ𝑒 𝑒𝑛𝑑", "the end"},
		{"bold italic", "𝒘𝒐𝒘", "wow"},
		{"script", "𝓼𝓬𝓻𝓲𝓹𝓽 𝒮𝒸𝓇𝒾𝓅𝓉", "script Script"},
		{"fraktur", "𝔣𝔯𝔞𝔨𝔱𝔲𝔯 ℌ", "fraktur H"},
		{"double-struck", "𝕕𝕠𝕦𝕓𝕝𝕖 ℝℕℤ", "double RNZ"},
		{"sans-serif bold", "𝗦𝗮𝗻𝘀 𝘀𝗲𝗿𝗶𝗳", "Sans serif"},
		{"sans-serif italic", "𝘪𝘵𝘢𝘭𝘪𝘤", "italic"},
		{"monospace", "𝚖𝚘𝚗𝚘𝚜𝚙𝚊𝚌𝚎", "monospace"},
		{"math digits", "𝟏𝟐𝟑 𝟘", "123 0"},
		{"math greek", "𝛂𝛃", "αβ"},
		{"circled", "Ⓗⓔⓛⓛⓞ ①②", "Hello 12"},
		{"negative and squared letters", "🅷🅴🅻🅻🅾 🄷🄸 🅗🅘", "HELLO HI HI"},
		{"dingbat digits", "❶ first ❿ tenth", "1 first 10 tenth"},
		{"fullwidth", "ＦＵＬＬ ｗｉｄｔｈ！", "FULL width!"},
		{"ligatures", "ﬁne ﬂow ﬀ", "fine flow ff"},
		{"other letterlike symbols stay", "Acme™ 20℃ №5", "Acme™ 20℃ №5"},
		{"accents compose", "e\u0301te\u0301", "été"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, CategoryPosts, CleanOptions{}); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestCleanDropsEmojiAndInvisibleCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"emoji between words", "Big news 🎉 today", "Big news today"},
		{"emoji joining two words", "great🎉news", "great news"},
		{"emoji before punctuation", "Done👍.", "Done."},
		{"emoji at the ends", "🚀 Launch day 🚀", "Launch day"},
		{"only emoji", "🎉🎉🎉", ""},
		{"skin tone", "👍🏽 ok", "ok"},
		{"zwj family", "👨\u200d👩\u200d👧 family", "family"},
		{"flag", "🇫🇷 France", "France"},
		{"keycap", "1️⃣ one", "1 one"},
		{"variation selector on a text symbol", "❤️ love ☺︎", "love"},
		{"dingbats and misc symbols", "✅ done ✨ ☀ sun ⭐ star", "done sun star"},
		{"text symbols stay", "a → b © 2024 ® ™ ‼", "a → b © 2024 ® ™ ‼"},
		{"control characters", "a\x00b\x07c\x1bd\x7fe\u0085", "abcde"},
		{"tab becomes a space", "a\tb", "a b"},
		{"zero-width and format", "zero\u200bwidth soft\u00adhyphen \ufeffbom \u200eltr\u2060wj", "zerowidth softhyphen bom ltrwj"},
		{"private use icon", "\uf09b GitHub", "GitHub"},
		{"replacement character", "bro\ufffdken", "bro ken"},
		{"invalid UTF-8", "in\xffva\xc3lid", "invalid"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, CategoryPosts, CleanOptions{}); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestCleanURLs(t *testing.T) {
	t.Parallel()
	const in = "See https://example.com/a_(b)?x=1, (http://x.org/p). Also www.go.dev! [docs](https://go.dev/doc/) <ftp://f.example/x> and HTTPS://LOUD.EXAMPLE."
	tests := []struct{ mode, want string }{
		{"", in},
		{URLKeep, in},
		{URLReplace, "See [URL], ([URL]). Also [URL]! [docs]([URL]) <[URL]> and [URL]."},
		{URLDrop, "See , ( ). Also ! [docs]( ) < > and ."},
	}
	for _, tt := range tests {
		if got := Clean(in, CategoryArticles, CleanOptions{URLs: tt.mode}); got != tt.want {
			t.Errorf("URLs %q:\n got %q\nwant %q", tt.mode, got, tt.want)
		}
	}
	notURLs := []string{
		"xhttp://inside.a.word",
		"http:// nothing after the scheme",
		"www. nothing after",
		"awww.example.com",
		"mailto:someone@example.com",
	}
	for _, s := range notURLs {
		if got := Clean(s, CategoryArticles, CleanOptions{URLs: URLReplace}); got != Clean(s, CategoryArticles, CleanOptions{}) {
			t.Errorf("Clean(%q) replaced a URL: %q", s, got)
		}
	}
	// Styled letters are folded first, so a URL written in them is
	// still a URL, and cleaning again changes nothing.
	if got := Clean("𝐡𝐭𝐭𝐩𝐬://𝐱.𝐜𝐨𝐦 ok", CategoryPosts, CleanOptions{URLs: URLReplace}); got != "[URL] ok" {
		t.Errorf("styled URL: got %q, want %q", got, "[URL] ok")
	}
}

func TestCleanASCIIPunctuation(t *testing.T) {
	t.Parallel()
	in := "“Quoted” ‘single’ it’s 1990–2000 — dash… 5′ 6″ −1"
	if got := Clean(in, CategoryArticles, CleanOptions{}); got != in {
		t.Errorf("off: Clean(%q) = %q, want it unchanged", in, got)
	}
	want := `"Quoted" 'single' it's 1990-2000 - dash... 5' 6" -1`
	if got := Clean(in, CategoryArticles, CleanOptions{ASCIIPunctuation: true}); got != want {
		t.Errorf("on: Clean(%q) = %q, want %q", in, got, want)
	}
}

func TestCleanKeepsCodeBlocksVerbatim(t *testing.T) {
	t.Parallel()
	code := "```go\nfunc main() {\n\tfmt.Println(\"hi 🎉\")   // 𝐛𝐨𝐥𝐝  https://x.com\n\n\n\tif  x  {\n\t}\n}\n```"
	in := "## main.go\n\n\n" + code + "\n\n\n## next.py\n\n~~~~python\ndef f():\n    return  1\n~~~~\n"
	want := "## main.go\n\n" + code + "\n\n## next.py\n\n~~~~python\ndef f():\n    return  1\n~~~~"
	for _, cat := range []string{CategoryRepositories, CategoryArticles} {
		if got := Clean(in, cat, CleanOptions{URLs: URLReplace}); got != want {
			t.Errorf("%s:\n got %q\nwant %q", cat, got, want)
		}
	}
	// Posts have no markdown: the same text is prose there.
	got := Clean(in, CategoryPosts, CleanOptions{URLs: URLReplace})
	if strings.Contains(got, "\t") || strings.Contains(got, "🎉") || !strings.Contains(got, "bold [URL]") {
		t.Errorf("posts: code was not cleaned as prose: %q", got)
	}

	tests := []struct{ name, in, want string }{
		{"fence closed by a longer one", "````\n```\nstill code  \n`````\nprose  here", "````\n```\nstill code  \n`````\nprose here"},
		{"tilde fence is not closed by backticks", "~~~\n```\ncode  x\n~~~\na  b", "~~~\n```\ncode  x\n~~~\na b"},
		{"unclosed fence runs to the end", "text\n```\ncode  a\n\n\ncode  b", "text\n```\ncode  a\n\n\ncode  b"},
		{"backtick info string with a backtick is not a fence", "``` a`b\nx  y", "``` a`b\nx y"},
		{"indented up to three spaces", "   ```\n  code\n   ```", "   ```\n  code\n   ```"},
		{"CRLF in code", "```\r\na  b\r\n```", "```\na  b\n```"},
		{"control characters in code", "```\na\x00b\tc\x1b\n```", "```\nab\tc\n```"},
		{"indentation kept outside code", "- list\n    - nested   item\n\tcode", "- list\n    - nested item\n\tcode"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, CategoryRepositories, CleanOptions{}); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestCleanIsIdempotentOnRealText(t *testing.T) {
	t.Parallel()
	for _, text := range tiltest.Texts(t, 1000) {
		for _, cat := range []string{CategoryArticles, CategoryPosts, CategoryRepositories} {
			for _, opts := range []CleanOptions{{}, {URLs: URLReplace, ASCIIPunctuation: true}, {URLs: URLDrop}} {
				once := Clean(text, cat, opts)
				if twice := Clean(once, cat, opts); twice != once {
					t.Fatalf("Clean is not idempotent (%s, %+v) on %.80q:\nonce  %.300q\ntwice %.300q", cat, opts, text, once, twice)
				}
				if !utf8.ValidString(once) {
					t.Fatalf("Clean gave invalid UTF-8")
				}
			}
		}
	}
}

func TestCategory(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"articles", CategoryArticles},
		{"article", CategoryArticles},
		{"posts", CategoryPosts},
		{"post", CategoryPosts},
		{"repositories", CategoryRepositories},
		{"repository", CategoryRepositories},
		{"", CategoryArticles},
		{"podcasts", CategoryArticles},
	}
	for _, tt := range tests {
		if got := Category(tt.in); got != tt.want {
			t.Errorf("Category(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
