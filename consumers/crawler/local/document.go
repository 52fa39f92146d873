package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/encoding/charmap"

	"github.com/twin-llm/twin/consumers/crawler/extract"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// formats maps the supported extensions (lowercased) to how they are read.
var formats = map[string]string{
	".md": formatMarkdown, ".markdown": formatMarkdown,
	".html": formatHTML, ".htm": formatHTML,
	".txt": formatText,
}

const (
	formatMarkdown = "markdown"
	formatHTML     = "html"
	formatText     = "text"
)

// supportedList names the supported extensions in error messages.
const supportedList = ".md, .markdown, .html, .htm or .txt"

// binarySniffBytes is how far a NUL byte marks a file as binary, as git does.
const binarySniffBytes = 8 << 10

// dateLayouts are the forms of a front matter date: YAML timestamps, and
// what Jekyll and Hugo write.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// formatOf returns how the file called name is read, or "" when it is not
// supported.
func formatOf(name string) string { return formats[strings.ToLower(filepath.Ext(name))] }

// readCapped reads r, failing permanently if it holds more than limit bytes.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, streams.Permanent(fmt.Errorf("file is larger than the limit of %d bytes", limit))
	}
	return data, nil
}

// document makes the document of the file at p, of the given format, with
// content data and file information info.
func (c *crawl) document(ctx context.Context, p, format string, data []byte, info fs.FileInfo) (schemas.CrawledDocument, error) {
	if bytes.IndexByte(data[:min(len(data), binarySniffBytes)], 0) >= 0 {
		return schemas.CrawledDocument{}, streams.Permanent(fmt.Errorf("local: %s: binary content in a %s file", p, format))
	}
	doc := schemas.CrawledDocument{
		Kind:        schemas.KindPost,
		URL:         fileURL(p),
		Platform:    "local",
		Author:      c.author,
		PublishedAt: info.ModTime().UTC(),
		CrawledAt:   time.Now().UTC(),
		Metadata:    map[string]string{},
	}
	switch format {
	case formatHTML:
		res, err := extract.Extract(ctx, data, extract.Options{URL: doc.URL})
		if err != nil {
			if ctx.Err() != nil {
				return schemas.CrawledDocument{}, ctx.Err()
			}
			// The same bytes will extract the same way.
			return schemas.CrawledDocument{}, streams.Permanent(fmt.Errorf("local: %s: %w", p, err))
		}
		fromHTML(&doc, res)
	case formatMarkdown:
		fromMarkdown(&doc, decodeText(data))
	default:
		doc.Content = strings.TrimSpace(decodeText(data))
	}
	if doc.Content == "" {
		return schemas.CrawledDocument{}, streams.Permanent(fmt.Errorf("local: %s: nothing to index: no text", p))
	}
	if doc.Title == "" {
		doc.Title = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	}
	// Set last, so that front matter keys of the same names cannot hide
	// where the document came from.
	doc.Metadata["path"] = p
	doc.Metadata["format"] = format
	doc.Metadata["size"] = strconv.FormatInt(info.Size(), 10)
	doc.Metadata["modified"] = info.ModTime().UTC().Format(time.RFC3339)
	sum := sha256.Sum256([]byte(doc.Content))
	doc.ContentHash = hex.EncodeToString(sum[:])
	return doc, nil
}

func fromHTML(doc *schemas.CrawledDocument, res extract.Result) {
	doc.Kind = schemas.KindArticle
	doc.Title = res.Title
	if doc.Author == "" {
		doc.Author = res.Author
	}
	doc.Content = res.Text
	doc.Description = res.Description
	doc.Language = res.Language
	doc.SiteName = res.SiteName
	if !res.Date.IsZero() {
		doc.PublishedAt = res.Date.UTC()
	}
	doc.Metadata["extract_method"] = res.Method
}

// fromMarkdown fills doc from a Markdown text: the front matter, if any,
// gives the title, author, date, description and language and goes into
// Metadata; the body is the content.
func fromMarkdown(doc *schemas.CrawledDocument, text string) {
	front, body := splitFrontMatter(text)
	doc.Content = strings.TrimSpace(body)
	for k, v := range front {
		doc.Metadata[k] = flatten(v)
	}
	doc.Title = firstOf(front, "title")
	if doc.Title == "" {
		doc.Title = firstHeading(body)
	}
	if doc.Author == "" {
		doc.Author = authorOf(front["author"])
	}
	if doc.Author == "" {
		doc.Author = authorOf(front["authors"])
	}
	doc.Description = firstOf(front, "description", "summary")
	doc.Language = firstOf(front, "lang", "language")
	if t, ok := dateOf(front["date"]); ok {
		doc.PublishedAt = t.UTC()
	}
}

// decodeText returns data as UTF-8 text with "\n" line ends. Bytes that are
// not UTF-8 are read as Windows-1252, the usual encoding of older text
// files (and a superset of Latin-1's printable characters).
func decodeText(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		if decoded, err := charmap.Windows1252.NewDecoder().Bytes(data); err == nil {
			data = decoded
		}
	}
	return strings.ReplaceAll(string(data), "\r\n", "\n")
}

// splitFrontMatter separates a YAML front matter block ("---" lines around
// it, the closing one may be "...") from the body. A block that is not a
// YAML mapping is not front matter (a leading "---" may be a rule), and the
// whole text is the body.
func splitFrontMatter(text string) (map[string]any, string) {
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return nil, text
	}
	for pos := 0; pos < len(rest); {
		end := strings.IndexByte(rest[pos:], '\n')
		next := len(rest)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(rest)
		}
		if line := strings.TrimRight(rest[pos:end], " \t"); line == "---" || line == "..." {
			front := map[string]any{}
			if err := yaml.Unmarshal([]byte(rest[:pos]), &front); err != nil {
				return nil, text
			}
			return front, rest[next:]
		}
		pos = next
	}
	return nil, text
}

// firstHeading returns the text of the first level-one heading of a
// Markdown body ("# Title", or "Title" underlined with "="), outside code
// blocks, or "".
func firstHeading(body string) string {
	lines := strings.Split(body, "\n")
	fence := ""
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		switch {
		case fence != "":
			if strings.HasPrefix(line, fence) {
				fence = ""
			}
		case strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~"):
			fence = line[:3]
		case strings.HasPrefix(line, "# "):
			return trimClosingHashes(strings.TrimSpace(line[2:]))
		case line != "" && i+1 < len(lines) && isSetextUnderline(lines[i+1]):
			return line
		}
	}
	return ""
}

// trimClosingHashes removes an ATX heading's optional closing sequence
// ("# Title ##"), but not a hash that belongs to the title ("# C#").
func trimClosingHashes(s string) string {
	trimmed := strings.TrimRight(s, "#")
	if trimmed == s || (trimmed != "" && !strings.HasSuffix(trimmed, " ")) {
		return s
	}
	return strings.TrimSpace(trimmed)
}

func isSetextUnderline(line string) bool {
	line = strings.TrimSpace(line)
	return len(line) >= 3 && strings.Trim(line, "=") == ""
}

// firstOf returns the first of the front matter keys holding a non-empty
// text value.
func firstOf(front map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := front[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// authorOf reads an author from front matter: a name, a list of names (the
// first), or a mapping with a name.
func authorOf(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case []any:
		if len(v) > 0 {
			return authorOf(v[0])
		}
	case map[string]any:
		return authorOf(v["name"])
	}
	return ""
}

// dateOf reads a front matter date, a YAML timestamp or one of dateLayouts.
func dateOf(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// flatten renders a front matter value as Metadata text: scalars as they
// read, lists joined with ", ", anything else as JSON.
func flatten(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.Format(time.RFC3339)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = flatten(e)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}
