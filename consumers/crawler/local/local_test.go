package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

var mtime = time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)

// write creates the files under dir (a value starting with "->" is a
// symbolic link to the rest), all modified at mtime.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func fileURLOf(p string) string { return "file://" + filepath.ToSlash(p) }

func enabled() *Source { return New(Config{Enabled: true}) }

// crawlOne crawls p and expects one document.
func crawlOne(t *testing.T, src *Source, p, author string) schemas.CrawledDocument {
	t.Helper()
	docs, err := src.Crawl(t.Context(), fileURLOf(p), author)
	if err != nil {
		t.Fatalf("Crawl(%s): %v", p, err)
	}
	if len(docs) != 1 {
		t.Fatalf("Crawl(%s) returned %d documents, want 1", p, len(docs))
	}
	return docs[0]
}

const article = `<!DOCTYPE html>
<html lang="en"><head><title>Engines of Thought | Ada's notes</title>
<meta name="author" content="Ada Lovelace">
<meta name="description" content="On engines.">
</head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article>
<h1>Engines of Thought</h1>
<p>The analytical engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.
It might act upon other things besides number, were objects found whose mutual fundamental relations
could be expressed by those of the abstract science of operations.</p>
<p>Supposing, for instance, that the fundamental relations of pitched sounds in the science of harmony
and of musical composition were susceptible of such expression and adaptations, the engine might
compose elaborate and scientific pieces of music of any degree of complexity or extent.</p>
<p>The engine has no pretensions whatever to originate anything. It can do whatever we know how to
order it to perform. It can follow analysis; but it has no power of anticipating any analytical
relations or truths.</p>
</article>
<footer>Copyright Ada</footer>
</body></html>
`

func TestCrawlMarkdownWithFrontMatter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"post.md": "---\n" +
		"title: Notes on the Engine\n" +
		"author: Ada Lovelace\n" +
		"date: 2024-01-02\n" +
		"tags: [engines, math]\n" +
		"description: Short notes.\n" +
		"draft: false\n" +
		"---\n\n# A heading that is not the title\n\nBody text.\n"})
	p := filepath.Join(dir, "post.md")

	doc := crawlOne(t, enabled(), p, "")
	sum := sha256.Sum256([]byte(doc.Content))
	checks := []struct{ field, got, want string }{
		{"Kind", doc.Kind, schemas.KindPost},
		{"URL", doc.URL, fileURLOf(p)},
		{"Platform", doc.Platform, "local"},
		{"Title", doc.Title, "Notes on the Engine"},
		{"Author", doc.Author, "Ada Lovelace"},
		{"Description", doc.Description, "Short notes."},
		{"Content", doc.Content, "# A heading that is not the title\n\nBody text."},
		{"PublishedAt", doc.PublishedAt.String(), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC).String()},
		{"ContentHash", doc.ContentHash, hex.EncodeToString(sum[:])},
		{"Metadata[tags]", doc.Metadata["tags"], "engines, math"},
		{"Metadata[draft]", doc.Metadata["draft"], "false"},
		{"Metadata[title]", doc.Metadata["title"], "Notes on the Engine"},
		{"Metadata[format]", doc.Metadata["format"], "markdown"},
		{"Metadata[path]", doc.Metadata["path"], p},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if doc.CrawledAt.IsZero() || doc.CrawledAt.Location() != time.UTC {
		t.Errorf("CrawledAt = %v, want now in UTC", doc.CrawledAt)
	}

	// The author given with the request wins over the front matter's.
	if got := crawlOne(t, enabled(), p, "ada").Author; got != "ada" {
		t.Errorf("Author = %q with a given author, want %q", got, "ada")
	}
}

func TestCrawlSingleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"heading.md":     "Intro line.\n\n```md\n# Not this one\n```\n\n# Engines ##\n\nText.\n",
		"setext.md":      "Engines\n=======\n\nText.\n",
		"plain.md":       "Just text.\n",
		"rule.md":        "---\nnot: [yaml\n---\nText after a rule.\n",
		"NOTES.MARKDOWN": "# Upper case extension\n",
		"diary.txt":      "\ufeffDear diary,\r\ntoday.\r\n",
		"latin1.txt":     "caf\xe9 cr\xe8me\n",
		"page.html":      article,
		"page.htm":       article,
	})
	tests := []struct {
		file                               string
		kind, title, author, content, lang string // content: a substring
		published                          time.Time
	}{
		{"heading.md", schemas.KindPost, "Engines", "", "Intro line.", "", mtime},
		{"setext.md", schemas.KindPost, "Engines", "", "Text.", "", mtime},
		{"plain.md", schemas.KindPost, "plain", "", "Just text.", "", mtime},
		{"rule.md", schemas.KindPost, "rule", "", "---\nnot: [yaml\n---\nText after a rule.", "", mtime},
		{"NOTES.MARKDOWN", schemas.KindPost, "Upper case extension", "", "# Upper case extension", "", mtime},
		{"diary.txt", schemas.KindPost, "diary", "", "Dear diary,\ntoday.", "", mtime},
		{"latin1.txt", schemas.KindPost, "latin1", "", "café crème", "", mtime},
		{"page.html", schemas.KindArticle, "Engines of Thought", "Ada Lovelace", "weaves algebraic patterns", "en", mtime},
		{"page.htm", schemas.KindArticle, "Engines of Thought", "Ada Lovelace", "no power of anticipating", "en", mtime},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			doc := crawlOne(t, enabled(), filepath.Join(dir, tt.file), "")
			if doc.Kind != tt.kind || doc.Title != tt.title || doc.Author != tt.author || doc.Language != tt.lang {
				t.Errorf("kind %q, title %q, author %q, language %q; want %q, %q, %q, %q",
					doc.Kind, doc.Title, doc.Author, doc.Language, tt.kind, tt.title, tt.author, tt.lang)
			}
			if !strings.Contains(doc.Content, tt.content) {
				t.Errorf("Content = %q, want it to contain %q", doc.Content, tt.content)
			}
			if !doc.PublishedAt.Equal(tt.published) {
				t.Errorf("PublishedAt = %v, want %v", doc.PublishedAt, tt.published)
			}
		})
	}
}

func TestCrawlHTMLDropsBoilerplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"page.html": article})
	doc := crawlOne(t, enabled(), filepath.Join(dir, "page.html"), "")
	for _, boiler := range []string{"Home", "Copyright"} {
		if strings.Contains(doc.Content, boiler) {
			t.Errorf("Content holds the page's %q: %q", boiler, doc.Content)
		}
	}
	if doc.Metadata["format"] != "html" || doc.Metadata["extract_method"] == "" {
		t.Errorf("Metadata = %v, want format html and the extraction method", doc.Metadata)
	}
}

func TestCrawlDirectoryWalk(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	write(t, outside, map[string]string{"secret.md": "# Secret\n"})
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"a.md":                "# A\n",
		"b/c.txt":             "C\n",
		"b/d.html":            article,
		"b/e/f.markdown":      "# F\n",
		"a-z.md":              "# AZ\n",
		"link.md":             "->a.md",
		"published.md":        "->.drafts/real.md",
		".drafts/real.md":     "# Real\n",
		"escape.md":           "->" + filepath.Join(outside, "secret.md"),
		"linked-dir":          "->" + outside,
		"dangling.md":         "->missing.md",
		".hidden.md":          "# Hidden\n",
		".notes/n.md":         "# In a hidden directory\n",
		".git/HEAD.md":        "# Git\n",
		"node_modules/m/r.md": "# Dependency\n",
		"vendor/v.md":         "# Vendored\n",
		"build/out.html":      article,
		"image.png":           "\x89PNG",
		"script.js":           "x()\n",
		"empty.md":            "",
		"blank.txt":           " \n\n",
		"binary.txt":          "a\x00b",
	})
	src := New(Config{Enabled: true, Roots: []string{dir}})

	docs, err := src.Crawl(t.Context(), fileURLOf(dir), "ada")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, strings.TrimPrefix(d.URL, fileURLOf(dir)+"/"))
		if d.Author != "ada" {
			t.Errorf("%s: Author = %q, want the given author", d.URL, d.Author)
		}
	}
	// link.md is a.md again; published.md links to a file in a hidden
	// directory, which is inside the root.
	want := []string{"a-z.md", "a.md", "b/c.txt", "b/d.html", "b/e/f.markdown", "published.md"}
	if !slices.Equal(got, want) {
		t.Errorf("documents:\n got %q\nwant %q", got, want)
	}
}

func TestCrawlDirectoryCaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"e.md": "# E\n", "d.md": "# D\n", "c.md": "# C\n", "b.md": "# B\n", "a.md": "# A\n",
		"big.md": "# Big\n" + strings.Repeat("x", 100)})
	src := New(Config{Enabled: true, MaxFiles: 3, MaxFileBytes: 50})

	docs, err := src.Crawl(t.Context(), fileURLOf(dir), "")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	var titles []string
	for _, d := range docs {
		titles = append(titles, d.Title)
	}
	if !slices.Equal(titles, []string{"A", "B", "C"}) {
		t.Errorf("titles %q, want the first 3 files in path order, big.md skipped as too large", titles)
	}
}

func TestCrawlRefusals(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	write(t, outside, map[string]string{"secret.md": "# Secret\n"})
	root := t.TempDir()
	write(t, root, map[string]string{
		"ok.md":         "# OK\n",
		"paper.pdf":     "%PDF-1.7",
		"empty.txt":     "",
		"binary.md":     "\x00\x01",
		"big.txt":       strings.Repeat("x", 100),
		"empty/.keep":   "",
		"escape.md":     "->" + filepath.Join(outside, "secret.md"),
		"rel-escape.md": "->../" + filepath.Base(outside) + "/secret.md",
		"portal":        "->" + outside,
	})
	limited := New(Config{Enabled: true, Roots: []string{root}, MaxFileBytes: 50})

	tests := []struct {
		name string
		src  *Source
		url  string
		want string // in the error text
	}{
		{"disabled", New(Config{Roots: []string{root}}), fileURLOf(filepath.Join(root, "ok.md")), "not enabled"},
		{"outside the roots", limited, fileURLOf(filepath.Join(outside, "secret.md")), "outside the allowed directories"},
		{"dot-dot escape", limited, "file://" + filepath.ToSlash(root) + "/../" + filepath.Base(outside) + "/secret.md", "outside the allowed directories"},
		{"symlink escape", limited, fileURLOf(filepath.Join(root, "escape.md")), "outside the allowed directories"},
		{"relative symlink escape", limited, fileURLOf(filepath.Join(root, "rel-escape.md")), "outside the allowed directories"},
		{"symlinked directory escape", limited, fileURLOf(filepath.Join(root, "portal", "secret.md")), "outside the allowed directories"},
		{"no existing root", New(Config{Enabled: true, Roots: []string{filepath.Join(root, "missing")}}), fileURLOf(filepath.Join(root, "ok.md")), "outside the allowed directories"},
		{"unsupported type", limited, fileURLOf(filepath.Join(root, "paper.pdf")), "unsupported file type"},
		{"empty file", limited, fileURLOf(filepath.Join(root, "empty.txt")), "nothing to index"},
		{"binary content", limited, fileURLOf(filepath.Join(root, "binary.md")), "binary"},
		{"too large", limited, fileURLOf(filepath.Join(root, "big.txt")), "larger than the limit"},
		{"missing file", limited, fileURLOf(filepath.Join(root, "missing.md")), "no such file"},
		{"directory without documents", limited, fileURLOf(filepath.Join(root, "empty")), "nothing to index"},
		{"another host", limited, "file://example.com/etc/passwd", "another host"},
		{"not a file URL", limited, "https://example.com/a.md", "not a file:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			docs, err := tt.src.Crawl(t.Context(), tt.url, "")
			if !errors.Is(err, streams.ErrPermanent) {
				t.Fatalf("Crawl(%s) = %d documents, error %v; want streams.ErrPermanent", tt.url, len(docs), err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Crawl error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCrawlCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"a.md": "# A\n", "b/c.md": "# C\n"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := enabled().Crawl(ctx, fileURLOf(dir), "")
	if !errors.Is(err, context.Canceled) || errors.Is(err, streams.ErrPermanent) {
		t.Errorf("Crawl error = %v, want context.Canceled and not streams.ErrPermanent", err)
	}
}

func TestCrawlURLIsNormalized(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "my notes")
	write(t, dir, map[string]string{"día 1.md": "# Día\n"})
	doc := crawlOne(t, enabled(), filepath.Join(dir, "día 1.md"), "")
	u, err := url.Parse(doc.URL)
	if err != nil {
		t.Fatalf("URL %q does not parse: %v", doc.URL, err)
	}
	if u.Path != filepath.ToSlash(filepath.Join(dir, "día 1.md")) || strings.Contains(doc.URL, " ") {
		t.Errorf("URL = %q, want the escaped file URL of the path", doc.URL)
	}

	// The same file found by walking its directory has the same URL.
	docs, err := enabled().Crawl(t.Context(), doc.URL[:strings.LastIndex(doc.URL, "/")], "")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	if len(docs) != 1 || docs[0].URL != doc.URL {
		t.Errorf("walking the directory gave %v, want the URL %q", docs, doc.URL)
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want bool
	}{
		{"file:///home/ada/notes.md", true},
		{"file:///home/ada/", true},
		{"file://localhost/home/ada/notes.md", true},
		{"https://example.com/notes.md", false},
		{"http://localhost/notes.md", false},
		{"ftp://example.com/notes.md", false},
	}
	// Matching does not depend on being enabled: a disabled source refuses
	// with a reason instead.
	src := New(Config{})
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Match(u); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestSplitFrontMatter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, body string
		keys             int
	}{
		{"yaml", "---\na: 1\nb: x\n---\nbody\n", "body\n", 2},
		{"dots close", "---\na: 1\n...\nbody", "body", 1},
		{"empty block", "---\n---\nbody", "body", 0},
		{"no closing line", "---\na: 1\nbody", "---\na: 1\nbody", 0},
		{"not yaml", "---\n: : :\n---\nbody", "---\n: : :\n---\nbody", 0},
		{"not at the start", "x\n---\na: 1\n---\n", "x\n---\na: 1\n---\n", 0},
		{"a list is not front matter", "---\n- a\n---\nbody", "---\n- a\n---\nbody", 0},
	}
	for _, tt := range tests {
		front, body := splitFrontMatter(tt.text)
		if body != tt.body || len(front) != tt.keys {
			t.Errorf("%s: body %q, %d keys; want %q, %d keys", tt.name, body, len(front), tt.body, tt.keys)
		}
	}
}
