package main

import (
	"io"
	"strings"

	"github.com/twin-llm/twin/internal/markdown"
)

// answerWriter prints an answer's markdown, as it streams, for a
// terminal: paragraphs and lists as they are, headings without their #,
// code blocks indented by four spaces without their fences, links as
// "text (url)", emphasis marks dropped, citations [n] kept (they match
// the numbered sources printed after the answer). Prose is printed a few
// words at a time as it arrives; a code line, a fence or a line's first
// word waits for enough text to tell what it is.
type answerWriter struct {
	out     io.Writer
	pending string // text received but not printed
	started bool   // the current line's start (its kind) was printed
	inCode  bool   // inside a fenced code block
	fence   string // the fence that closes it
	wrote   bool   // something was printed
	lastNL  bool   // the last thing printed was a line break
}

func newAnswerWriter(out io.Writer) *answerWriter { return &answerWriter{out: out} }

// Write takes the next piece of the answer.
func (w *answerWriter) Write(s string) {
	w.pending += s
	for {
		i := strings.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		line := w.pending[:i]
		w.pending = w.pending[i+1:]
		w.line(line)
	}
	w.partial()
}

// Flush prints what is left, ending the answer's last line.
func (w *answerWriter) Flush() {
	if w.pending != "" || w.started {
		w.line(w.pending)
		w.pending = ""
	}
}

// Ended reports whether the answer printed so far ends a line.
func (w *answerWriter) Ended() bool { return !w.wrote || w.lastNL }

func (w *answerWriter) print(s string) {
	if s == "" {
		return
	}
	io.WriteString(w.out, s)
	w.wrote, w.lastNL = true, strings.HasSuffix(s, "\n")
}

// line prints one whole line.
func (w *answerWriter) line(l string) {
	started := w.started
	w.started = false
	if w.inCode {
		if markdown.ClosesFence(strings.TrimSpace(l), w.fence) {
			w.inCode = false
			return
		}
		w.print("    " + l + "\n")
		return
	}
	if !started {
		if f := markdown.Fence(strings.TrimSpace(l)); f != "" {
			w.inCode, w.fence = true, f
			return
		}
		l = lineStart(l)
	}
	w.print(terminalInline(l) + "\n")
}

// partial prints the words of an unfinished prose line that are safe to
// print: up to the last space outside a link.
func (w *answerWriter) partial() {
	if w.inCode || w.pending == "" {
		return
	}
	if !w.started {
		t := strings.TrimLeft(w.pending, " ")
		if !strings.Contains(t, " ") || markdown.Fence(t) != "" || strings.HasPrefix(t, "`") || strings.HasPrefix(t, "~") {
			return // not yet known what the line is
		}
	}
	cut := safeCut(w.pending)
	if cut == 0 {
		return
	}
	text := w.pending[:cut]
	w.pending = w.pending[cut:]
	if !w.started {
		text = lineStart(text)
		w.started = true
	}
	w.print(terminalInline(text))
}

// safeCut is the end of the longest prefix of s that ends after a space
// and leaves no link, code span or emphasis open.
func safeCut(s string) int {
	cut, depth, inCode := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '`':
			inCode = !inCode
		case inCode:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
			if i+1 < len(s) && s[i+1] == '(' {
				j := strings.IndexByte(s[i:], ')')
				if j < 0 {
					return cut
				}
				i += j
			}
		case c == ' ' && depth == 0 && i+1 < len(s) && s[i+1] != '(':
			cut = i + 1
		}
	}
	return cut
}

// lineStart drops a heading's #s; other line starts (list markers, "> ")
// read well as they are.
func lineStart(l string) string {
	t := strings.TrimLeft(l, " ")
	n := 0
	for n < len(t) && n < 6 && t[n] == '#' {
		n++
	}
	if n > 0 && n < len(t) && t[n] == ' ' {
		return strings.TrimLeft(t[n:], " ")
	}
	return l
}

// terminalInline rewrites a line's inline markdown for a terminal: links
// as "text (url)", images as their alt text, "**" and "__" dropped,
// backslash escapes resolved. Code spans keep their backticks and text.
func terminalInline(s string) string {
	if !strings.ContainsAny(s, "[*_\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+j+2])
			i += j + 2
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\`*_[]()#+-.!>", s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i += 2
		case (c == '*' || c == '_') && i+1 < len(s) && s[i+1] == c:
			i += 2
		case c == '[' || c == '!' && i+1 < len(s) && s[i+1] == '[':
			start := i
			if c == '!' {
				start++
			}
			text, url, end := markdown.Link(s, start)
			if end == 0 {
				b.WriteByte(c)
				i++
				continue
			}
			if c == '!' || url == text {
				b.WriteString(terminalInline(text))
			} else {
				b.WriteString(terminalInline(text) + " (" + url + ")")
			}
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
