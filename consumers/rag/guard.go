package rag

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An injection pattern is a phrase that tries to replace the system
// prompt. The list is deliberately narrow: a refusal is final for the user,
// so each pattern needs an instruction-shaped phrase, not a single word
// that an honest question could contain.
var defaultInjectionPatterns = []string{
	`(?i)\b(ignore|disregard|forget|override)\b[^.?!\n]{0,40}\b(previous|prior|above|earlier|preceding|all|your|system)\b[^.?!\n]{0,40}\b(instructions?|prompts?|rules|directions|guidelines)\b`,
	`(?i)\b(reveal|print|repeat|output|leak)\b[^.?!\n]{0,40}\b(system|hidden|initial|original)\s+(prompt|instructions?|message)`,
	`(?i)\b(show|tell|give)\s+me\s+your\s+(system|hidden|initial|original)?\s*(prompt|instructions)`,
	`(?i)\byou\s+are\s+now\s+(a|an|in|no longer)\b`,
	`(?i)\b(jailbreak|jailbroken|DAN mode|developer mode)\b`,
	`(?i)<\|?\s*(im_start|im_end|system|endoftext)\s*\|?>`,
	`(?i)(^|\n)\s*(system|assistant)\s*:`,
}

// A redaction rule replaces what must never leave in an answer: contact
// details and credentials that a crawled page happened to contain. The
// hint is a cheap test that the text may hold a match: answers are checked
// as they stream, many times each, and almost never hold one.
type redaction struct {
	kind string
	re   *regexp.Regexp
	hint func(s string) bool
}

func containsAny(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
}

// digits reports whether s holds at least n ASCII digits.
func digits(n int) func(string) bool {
	return func(s string) bool {
		left := n
		for i := 0; i < len(s) && left > 0; i++ {
			if s[i] >= '0' && s[i] <= '9' {
				left--
			}
		}
		return left == 0
	}
}

// secretWord is the hint of "password = ...": a separator, then a word.
func secretWord(s string) bool {
	if !strings.ContainsAny(s, ":=") {
		return false
	}
	return containsAny("key", "secret", "passw", "token")(strings.ToLower(s))
}

var defaultRedactions = []struct {
	kind, pattern string
	hint          func(string) bool
}{
	{"email", `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`, containsAny("@")},
	{"private_key", `-----BEGIN [A-Z ]*PRIVATE KEY-----`, containsAny("-----BEGIN")},
	{"aws_key", `\b(AKIA|ASIA)[0-9A-Z]{16}\b`, containsAny("AKIA", "ASIA")},
	{"api_key", `\b(sk|rk|pk)-[A-Za-z0-9_-]{20,}`, containsAny("sk-", "rk-", "pk-")},
	{"github_token", `\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`, containsAny("_")},
	{"slack_token", `\bxox[abprs]-[A-Za-z0-9-]{10,}`, containsAny("xox")},
	{"jwt", `\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, containsAny("eyJ")},
	{"secret", `(?i)\b(api[_-]?key|secret|password|passwd|token)\s*[:=]\s*["']?[^\s"']{6,}`, secretWord},
	{"phone", `(\+\d{1,3}[\s.-]?)?(\(\d{2,4}\)|\b\d{2,4})[\s.-]?\d{3,4}[\s.-]\d{3,4}\b`, digits(8)},
}

// Guard holds the compiled guardrails. It is safe for concurrent use.
type Guard struct {
	maxChars   int
	injections []*regexp.Regexp
	redactions []redaction
}

// NewGuard compiles the guardrails: questions longer than maxChars are
// refused, as are those matching an injection pattern (the defaults plus
// extra, Go regular expressions).
func NewGuard(maxChars int, extra []string) (*Guard, error) {
	g := &Guard{maxChars: maxChars}
	for _, p := range append(append([]string(nil), defaultInjectionPatterns...), extra...) {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		g.injections = append(g.injections, re)
	}
	for _, r := range defaultRedactions {
		g.redactions = append(g.redactions, redaction{r.kind, regexp.MustCompile(r.pattern), r.hint})
	}
	return g, nil
}

// Refusal says why a question is not answered.
type Refusal struct {
	Code   string // "too_long" or "injection"
	Reason string
}

// CheckInput returns a refusal for a question that must not reach the
// model, or nil.
func (g *Guard) CheckInput(q string) *Refusal {
	if n := len([]rune(q)); g.maxChars > 0 && n > g.maxChars {
		return &Refusal{Code: "too_long", Reason: "the question is longer than the limit"}
	}
	for _, re := range g.injections {
		if loc := re.FindStringIndex(q); loc != nil {
			return &Refusal{Code: "injection", Reason: "the question looks like a prompt injection: " + q[loc[0]:loc[1]]}
		}
	}
	return nil
}

// redactAll replaces every match in s and reports the kinds it replaced.
func (g *Guard) redactAll(s string) (string, []string) {
	var kinds []string
	for _, r := range g.redactions {
		if !r.hint(s) || !r.re.MatchString(s) {
			continue
		}
		s = r.re.ReplaceAllLiteralString(s, "["+r.kind+" redacted]")
		kinds = append(kinds, r.kind)
	}
	return s, kinds
}

// spans returns the matches of every rule in s, ordered by start.
func (g *Guard) spans(s string) [][2]int {
	var out [][2]int
	for _, r := range g.redactions {
		if !r.hint(s) {
			continue
		}
		for _, m := range r.re.FindAllStringIndex(s, -1) {
			out = append(out, [2]int{m[0], m[1]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// holdBack is how much of the latest text a Redactor keeps until more
// arrives: enough for the longest pattern that can contain spaces (a
// phone number, "password = ...") to be seen whole before any of it is
// released.
const holdBack = 32

// Redactor applies the output guardrail to a streamed answer. It releases
// text only once no redaction pattern can still grow across the cut, so a
// secret split over several model tokens is never streamed in pieces.
type Redactor struct {
	g       *Guard
	pending string
	kinds   map[string]int
}

// NewRedactor returns a redactor for one answer.
func (g *Guard) NewRedactor() *Redactor { return &Redactor{g: g, kinds: map[string]int{}} }

// Write adds model output and returns the text that is safe to release.
func (r *Redactor) Write(s string) string {
	r.pending += s
	if len(r.pending) <= holdBack {
		return ""
	}
	cut := lastSpace(r.pending[:len(r.pending)-holdBack])
	if cut <= 0 {
		return ""
	}
	for _, m := range r.g.spans(r.pending) {
		if m[0] < cut && m[1] > cut {
			cut = m[0]
			break
		}
	}
	if cut <= 0 {
		return ""
	}
	out := r.release(r.pending[:cut])
	r.pending = r.pending[cut:]
	return out
}

// Flush releases what is left at the end of the answer.
func (r *Redactor) Flush() string {
	out := r.release(r.pending)
	r.pending = ""
	return out
}

// Redactions counts what was redacted, by kind.
func (r *Redactor) Redactions() map[string]int { return r.kinds }

func (r *Redactor) release(s string) string {
	out, kinds := r.g.redactAll(s)
	for _, k := range kinds {
		r.kinds[k]++
	}
	return out
}

// lastSpace is the index just after the last whitespace in s, or 0.
func lastSpace(s string) int {
	i := strings.LastIndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return 0
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return i + size
}
