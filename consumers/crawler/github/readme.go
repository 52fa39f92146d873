package github

import (
	"path"
	"strings"
	"unicode/utf8"

	"github.com/twin-llm/twin/schemas"
)

// maxDescriptionBytes bounds the description taken from a README.
const maxDescriptionBytes = 1000

// description returns the first paragraph of prose of the repository's root
// README, or "" when it has none.
func description(files []schemas.RepositoryFile) string {
	for _, f := range files {
		if strings.Contains(f.Path, "/") {
			continue
		}
		base := strings.ToLower(f.Path)
		if strings.TrimSuffix(base, path.Ext(base)) == "readme" {
			return firstParagraph(f.Content)
		}
	}
	return ""
}

// firstParagraph returns the first paragraph of text, skipping what comes
// before the prose in most READMEs: front matter, titles, badges, images,
// HTML blocks and code. Lines of the paragraph are joined with spaces.
func firstParagraph(text string) string {
	var (
		para    []string
		fence   string // the open code fence, if any
		inFront bool
	)
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		switch {
		case i == 0 && line == "---":
			inFront = true
			continue
		case inFront:
			inFront = line != "---"
			continue
		case fence != "":
			if strings.HasPrefix(line, fence) {
				fence = ""
			}
			continue
		case strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~"):
			fence = line[:3]
			continue
		}
		switch {
		case line == "":
			if len(para) > 0 {
				return clip(strings.Join(para, " "))
			}
		case isAdornment(line):
			// The lines above were a title (setext or reStructuredText).
			para = para[:0]
		case strings.HasPrefix(line, "#"), strings.HasPrefix(line, "<"),
			strings.HasPrefix(line, "!["), strings.HasPrefix(line, "[!["),
			strings.HasPrefix(line, ".. "), strings.HasPrefix(line, "|"):
			// Headings, HTML, images, badges, rST directives, tables.
		default:
			para = append(para, line)
		}
	}
	return clip(strings.Join(para, " "))
}

// clip cuts s to maxDescriptionBytes on a rune boundary.
func clip(s string) string {
	if len(s) <= maxDescriptionBytes {
		return s
	}
	cut := maxDescriptionBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

// isAdornment reports whether line is one punctuation character repeated at
// least three times: an underline under a reStructuredText or setext title,
// or a rule.
func isAdornment(line string) bool {
	if len(line) < 3 || !strings.ContainsRune("=-~^*+#_:.'\"`", rune(line[0])) {
		return false
	}
	return strings.Count(line, line[:1]) == len(line)
}
