package extract

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Paragraphs of made-up prose, long enough for the extractor to see an
// article.
const (
	para1 = "The river had been rising for three days before anyone in the village thought to move the boats. By the time the council met on Thursday evening, the water had already reached the second step of the old mill, and the children had stopped going down to the bank after school."
	para2 = "Maria Santos, who has kept the ferry log for twenty years, said the last flood of this size came in the spring of 1998. Back then the council built a wall of sandbags along the quay, and most of the houses on the lower street stayed dry until the water fell again."
	para3 = "This year the council voted to open the sluice gates upstream instead, a decision that farmers on the other side of the valley have protested for weeks. They say their fields will take the water that the village refuses, and that nobody asked them before the vote."
)

// article returns a page in the shape of a blog post: navigation, a
// headline, a byline, the body, and a footer.
func article(body string) string {
	return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>The river rises | Valley News</title>
<meta property="og:title" content="The river rises">
<meta property="og:site_name" content="Valley News">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2024-03-15T08:00:00Z">
<meta name="description" content="A village decides what to do about the flood.">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sports">Sports</a></li></ul></nav>
<article>
<h1>The river rises</h1>
<div class="byline">By Jane Doe</div>
` + body + `
</article>
<footer><p>Copyright 2024 Valley News. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>`
}

func paragraphs(ps ...string) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("<p>" + p + "</p>\n")
	}
	return b.String()
}

func extractString(t *testing.T, page string, opts Options) Result {
	t.Helper()
	res, err := Extract(context.Background(), []byte(page), opts)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return res
}

func TestExtractFindsTextAndMetadata(t *testing.T) {
	t.Parallel()
	res := extractString(t, article(paragraphs(para1, para2, para3)), Options{URL: "https://news.example.com/2024/03/river"})
	if want := para1 + "\n\n" + para2 + "\n\n" + para3; res.Text != want {
		t.Errorf("Text =\n%q\nwant paragraphs separated by blank lines:\n%q", res.Text, want)
	}
	for _, check := range []struct{ field, got, want string }{
		{"Title", res.Title, "The river rises"},
		{"Author", res.Author, "Jane Doe"},
		{"Language", res.Language, "en"},
		{"SiteName", res.SiteName, "Valley News"},
		{"Description", res.Description, "A village decides what to do about the flood."},
		{"Method", res.Method, "trafilatura"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.field, check.got, check.want)
		}
	}
	if want := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC); !sameDay(res.Date, want) {
		t.Errorf("Date = %v, want %v", res.Date, want)
	}
}

func sameDay(a, b time.Time) bool {
	return a.Format(time.DateOnly) == b.Format(time.DateOnly)
}

func TestExtractReturnsErrNoContent(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, page string }{
		{"empty", ""},
		{"whitespace", " \n\t "},
		{"empty body", "<html><head><title>Nothing</title></head><body></body></html>"},
		{"script shell", `<html><body><div id="root"></div><script>render(document.getElementById("root"))</script></body></html>`},
		{"punctuation only", "<html><body><p>... --- !!!</p></body></html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Extract(context.Background(), []byte(tt.page), Options{})
			if !errors.Is(err, ErrNoContent) {
				t.Fatalf("Extract(%q) = %+v, %v; want ErrNoContent", tt.page, res, err)
			}
		})
	}
}

func TestExtractStopsOnCanceledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Extract(ctx, []byte(article(paragraphs(para1))), Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract with a canceled context: %v, want context.Canceled", err)
	}
}

func TestExtractKeepsTheParagraphsOfAShortPage(t *testing.T) {
	t.Parallel()
	// Short enough that trafilatura falls back to reading the <article> as
	// one run of text, and adds that run after the paragraphs it found.
	page := `<html><body><article><p>The river rose for three days.</p>
<p>The council met on Thursday.</p><pre>open(gates)

close(gates)</pre></article></body></html>`
	want := "The river rose for three days.\n\nThe council met on Thursday.\n\nopen(gates)\n\nclose(gates)"
	if res := extractString(t, page, Options{}); res.Text != want {
		t.Errorf("Text = %q, want %q", res.Text, want)
	}
}

func TestUnflatten(t *testing.T) {
	t.Parallel()
	doc, err := html.Parse(strings.NewReader(`<body><article><p>The river rose.</p><p>The council met.</p></article></body>`))
	if err != nil {
		t.Fatal(err)
	}
	const simple = "The river rose.\n\nThe council met."
	for _, tt := range []struct{ name, text, want string }{
		{"glued into one line", "The river rose.The council met.", simple},
		{"the same twice", "The river rose.\n\nThe council met.\n\nThe river rose. The council met.", simple},
		{"a line the page's article lacks", "The river rose.The council met. Read the rest in the app.", "The river rose.The council met. Read the rest in the app."},
		{"less than the article", "The river rose.", "The river rose."},
		{"not a short text", strings.Repeat("The river rose.\n", 20), strings.Repeat("The river rose.\n", 20)},
	} {
		if got := unflatten(tt.text, doc); got != tt.want {
			t.Errorf("%s: unflatten(%q) = %q, want %q", tt.name, tt.text, got, tt.want)
		}
	}
}

func TestExtractFallsBackOnShortPages(t *testing.T) {
	t.Parallel()
	// Too little text for trafilatura to call it an article, but a reader
	// still sees one sentence.
	page := `<html><body><nav><a href="/">Home</a></nav><main><div>The meeting is moved to Friday.</div></main></body></html>`
	res := extractString(t, page, Options{})
	if !strings.Contains(res.Text, "The meeting is moved to Friday.") || strings.Contains(res.Text, "Home") {
		t.Fatalf("Text = %q, want the sentence without the navigation", res.Text)
	}
}

func TestExtractRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		want, avoid []string
	}{
		{
			name:  "text and br in a div becomes paragraphs",
			body:  `<div class="content">` + para1 + `<br><br>` + para2 + `<br><br>` + para3 + `</div>`,
			want:  []string{para1 + "\n\n" + para2 + "\n\n" + para3},
			avoid: nil,
		},
		{
			name:  "related links inside the body are dropped",
			body:  paragraphs(para1) + `<p><strong>Related:</strong> <a href="/other">Ten photos of the last great flood</a></p>` + paragraphs(para2, para3),
			want:  []string{para1, para2, para3},
			avoid: []string{"Ten photos"},
		},
		{
			name:  "a promo label with its list of links is dropped",
			body:  paragraphs(para1, para2, para3) + `<h3>More Great Valley Stories</h3><ul><li><a href="/a">The mill reopens after the winter</a></li><li><a href="/b">Ferry prices go up again</a></li></ul>`,
			want:  []string{para3},
			avoid: []string{"Great Valley", "mill reopens", "Ferry prices"},
		},
		{
			name:  "a sentence with a colon and a link stays",
			body:  paragraphs(para1) + `<p>The council said this on Friday: the <a href="/minutes">minutes of the vote</a> show that the farmers were heard before the decision was taken.</p>` + paragraphs(para2, para3),
			want:  []string{"minutes of the vote", para3},
			avoid: nil,
		},
		{
			name:  "an image caption without figure markup is dropped",
			body:  paragraphs(para1) + `<div class="img"><img src="/flood.jpg" alt=""><span>The quay on Thursday evening</span></div>` + paragraphs(para2, para3),
			want:  []string{para1, para2},
			avoid: []string{"quay on Thursday"},
		},
		{
			name:  "the headline is not repeated in the text",
			body:  paragraphs(para1, para2, para3),
			want:  []string{para1},
			avoid: []string{"The river rises"},
		},
		{
			name:  "markup inside noscript is read as markup, not as text",
			body:  `<div class="post"><noscript>` + paragraphs(para1, para2, para3) + `<img src="/pixel.gif" alt=""></noscript></div>`,
			want:  []string{para1, para3},
			avoid: []string{"<p>", "<img", "pixel.gif"},
		},
		{
			name:  "an embedded tweet in a social box is kept",
			body:  paragraphs(para1, para2) + `<div class="social-embed"><blockquote class="twitter-tweet"><p>The water is at the second step of the mill now.</p>— Valley Ferry (@valleyferry) March 14, 2024</blockquote></div>` + paragraphs(para3),
			want:  []string{"The water is at the second step of the mill now.", para3},
			avoid: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := extractString(t, article(tt.body), Options{})
			for _, w := range tt.want {
				if !strings.Contains(res.Text, w) {
					t.Errorf("Text lacks %q:\n%s", w, res.Text)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(res.Text, a) {
					t.Errorf("Text holds %q:\n%s", a, res.Text)
				}
			}
		})
	}
}

func TestExtractRecoversTheLede(t *testing.T) {
	t.Parallel()
	const lede = "The village council voted on Thursday to open the sluice gates upstream, against the wishes of the farmers."
	page := `<html><head><title>The river rises</title></head><body>
<header><h1>The river rises</h1><div class="byline">By Jane Doe</div></header>
<div class="intro">` + lede + `</div>
<div class="story-body">` + paragraphs(para1, para2, para3) + `</div>
<footer><p>Copyright 2024 Valley News.</p></footer></body></html>`
	for _, tt := range []struct {
		name  string
		rules rule
		want  bool
	}{
		{"with the rule", 0, true},
		{"without it", defaultRules &^ ruleLede, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := extractString(t, page, Options{rules: tt.rules})
			if got := strings.HasPrefix(res.Text, lede+"\n\n"+para1); got != tt.want {
				t.Errorf("text starts with the lede then the body: %v, want %v\n%s", got, tt.want, res.Text)
			}
			if strings.Contains(res.Text, "Jane Doe") || strings.Contains(res.Text, "Copyright") {
				t.Errorf("Text holds the byline or the footer:\n%s", res.Text)
			}
		})
	}
}

func TestExtractTrimsALinkDenseTail(t *testing.T) {
	t.Parallel()
	const teaser = "The mayor opens the new bridge over the river"
	body := paragraphs(para1, para2, para3) + `<p><a href="/bridge">` + teaser + `</a> | <a href="/schools">Schools close early for the flood</a></p>`
	for _, tt := range []struct {
		name  string
		rules rule
		want  bool
	}{
		{"with the rule", 0, false},
		{"without it", defaultRules &^ ruleLinkTail, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := extractString(t, article(body), Options{rules: tt.rules})
			if got := strings.Contains(res.Text, teaser); got != tt.want {
				t.Errorf("teaser in text = %v, want %v\n%s", got, tt.want, res.Text)
			}
			if !strings.Contains(res.Text, para3) {
				t.Errorf("Text lacks the last paragraph:\n%s", res.Text)
			}
		})
	}
}

func TestExtractTrimsACallToFollowAtTheEnd(t *testing.T) {
	t.Parallel()
	const follow = "Want more from the valley? Follow us on"
	const cited = "The ferry company wrote on"
	body := paragraphs(para1, para2) + `<p>` + cited + ` <a href="https://twitter.com/valleyferry/status/1">its account</a> that boats will run again on Monday, once the water has gone down below the quay.</p>` +
		paragraphs(para3) + `<p>` + follow + ` <a href="https://www.facebook.com/valleynews">Facebook</a>, <a href="https://x.com/valleynews">X</a> and <a href="https://apps.apple.com/app/id1">our app</a>.</p>`
	for _, tt := range []struct {
		name  string
		rules rule
		want  bool
	}{
		{"with the rule", 0, false},
		{"without it", defaultRules &^ ruleSocialTail, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := extractString(t, article(body), Options{rules: tt.rules})
			if got := strings.Contains(res.Text, follow); got != tt.want {
				t.Errorf("call to follow in text = %v, want %v\n%s", got, tt.want, res.Text)
			}
			if !strings.Contains(res.Text, cited) || !strings.Contains(res.Text, para3) {
				t.Errorf("Text lacks the paragraph that cites a post, or the last one:\n%s", res.Text)
			}
		})
	}
}

func TestExtractLinks(t *testing.T) {
	t.Parallel()
	body := `<p>` + para1 + ` The <a href="/reports/flood-1998">report on the 1998 flood</a> is online, and so is
<a href="https://council.example.org/minutes#vote">the minutes of the vote</a>.</p>` + paragraphs(para2, para3)
	res := extractString(t, article(body), Options{URL: "https://news.example.com/2024/03/river"})
	want := []string{"https://news.example.com/reports/flood-1998", "https://council.example.org/minutes"}
	if !slices.Equal(res.Links, want) {
		t.Fatalf("Links = %q, want %q", res.Links, want)
	}
}

func TestExtractDecodesCharsets(t *testing.T) {
	t.Parallel()
	text := "Le conseil a voté l'ouverture des vannes, déjà contestée par les agriculteurs de la vallée. " + para1 + " " + para2
	tests := []struct {
		name        string
		page        []byte
		contentType string
	}{
		{"utf-8 declared latin-1", []byte(`<html><head><meta charset="iso-8859-1"></head><body><article><p>` + text + `</p></article></body></html>`), ""},
		{"latin-1 declared in meta", latin1(`<html><head><meta charset="iso-8859-1"></head><body><article><p>` + text + `</p></article></body></html>`), ""},
		{"latin-1 declared in the header", latin1(`<html><body><article><p>` + text + `</p></article></body></html>`), "text/html; charset=ISO-8859-1"},
		{"utf-8 with a byte order mark", append([]byte("\xEF\xBB\xBF"), `<html><body><article><p>`+text+`</p></article></body></html>`...), ""},
		{"utf-8 with a stray invalid byte", []byte(`<html><head><meta charset="utf-8"></head><body><article><p>` + text + " \xff</p></article></body></html>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Extract(context.Background(), tt.page, Options{ContentType: tt.contentType})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Text, "a voté l'ouverture des vannes, déjà contestée") {
				t.Fatalf("Text = %q, want the accents decoded", res.Text)
			}
			if !utf8.ValidString(res.Text) {
				t.Fatalf("Text = %q, want valid UTF-8", res.Text)
			}
		})
	}
}

// latin1 encodes s, which must hold only Latin-1 characters, in ISO-8859-1.
func latin1(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

func TestExtractIncludesCommentsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	body := paragraphs(para1, para2, para3) + `<div id="comments" class="comments"><ul><li class="comment"><p>I remember the 1998 flood very well, we lost the whole cellar that spring.</p></li></ul></div>`
	page := article(body)
	for _, include := range []bool{false, true} {
		res := extractString(t, page, Options{IncludeComments: include})
		if got := strings.Contains(res.Text, "we lost the whole cellar"); got != include {
			t.Errorf("IncludeComments %v: comment in text = %v\n%s", include, got, res.Text)
		}
	}
}

func TestRenderText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, html, want string }{
		{"paragraphs", "<p>One.</p><p>Two.</p>", "One.\n\nTwo."},
		{"inline markup", "<p>A <b>bold</b> and <i>quiet</i> word.</p>", "A bold and quiet word."},
		{"whitespace collapsed", "<p>  many \n\t spaces  </p>", "many spaces"},
		{"line breaks", "<p>line one<br>line two</p>", "line one\nline two"},
		{"lists", "<ul><li>first</li><li>second</li></ul>", "- first\n- second"},
		{"tables", "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", "a | b\n1 | 2"},
		{"preformatted kept", "<pre>x  =  1\n  y = 2</pre>", "x  =  1\n  y = 2"},
		{"nested blocks", "<div><div><p>deep</p></div></div><p>next</p>", "deep\n\nnext"},
		{"scripts skipped", "<p>text<script>var x = 1;</script></p>", "text"},
		{"headings", "<h2>Title</h2><p>Body.</p>", "Title\n\nBody."},
		{"punctuation sticks to inline elements", "<p>see <a>this</a>, and (<b>that</b>) or «<i>so</i>».</p>", "see this, and (that) or «so»."},
		{"inline elements apart from words", "<p>for<a>Larry</a>and<b>Moe</b></p>", "for Larry and Moe"},
		{"soft hyphens dropped", "<p>Wehr&shy;an&shy;lage und Gro\u00dfv\u00e4&shy;ter</p>", "Wehranlage und Gro\u00dfv\u00e4ter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := html.Parse(strings.NewReader(tt.html))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(renderText(doc)); got != tt.want {
				t.Errorf("renderText(%q) = %q, want %q", tt.html, got, tt.want)
			}
		})
	}
}

func TestExtractRecoversTheSummary(t *testing.T) {
	t.Parallel()
	const summary = "The village council voted on Thursday to open the sluice gates upstream, against the wishes of the farmers across the valley."
	page := func(description, teaser string) string {
		return `<html><head><title>The river rises</title>
<meta name="description" content="` + description + `">
</head><body>
<div class="story-body">` + paragraphs(para1, para2, para3) + `</div>
<div class="box">` + teaser + `</div>
<footer><p>Copyright 2024 Valley News.</p></footer></body></html>`
	}
	for _, tt := range []struct {
		name  string
		page  string
		rules rule
		want  bool
	}{
		{"a teaser box with the description", page(summary, `<div class="teaser-text">`+summary+`</div>`), 0, true},
		{"the same without the rule", page(summary, `<div class="teaser-text">`+summary+`</div>`), defaultRules &^ ruleSummary, false},
		{"a description cut short finds the whole box", page(summary[:80]+"…", `<div class="teaser-text">`+summary+`</div>`), 0, true},
		{"a link to another page is no summary", page(summary, `<a href="/other"><div>`+summary+`</div></a>`), 0, false},
		{"a short description is a label", page("Valley News, the river", `<div>Valley News, the river</div>`), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := extractString(t, tt.page, Options{rules: tt.rules})
			if got := strings.HasPrefix(res.Text, summary+"\n\n"+para1); got != tt.want {
				t.Errorf("text starts with the summary then the body: %v, want %v\n%s", got, tt.want, res.Text)
			}
			if !strings.Contains(res.Text, para3) || strings.Count(res.Text, para1) != 1 {
				t.Errorf("the body is not there once:\n%s", res.Text)
			}
		})
	}
}
