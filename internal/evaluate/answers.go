package evaluate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/llm"
)

// Answer is the twin's answer to one question, as a client receives it.
type Answer struct {
	Text string
	// Sources are the cited documents, in citation order: [n] in Text is
	// Sources[n-1].
	Sources []string
	// Refused is an answer the guardrails or the model declined to give.
	Refused    bool
	FirstToken time.Duration
	Total      time.Duration
}

// Asker asks the running twin a question (the chat API).
type Asker interface {
	Ask(ctx context.Context, question, author string) (Answer, error)
}

// Documents reads a cited document's text (the warehouse API).
type Documents interface {
	Text(ctx context.Context, id string) (string, error)
}

// Judge scores how faithful an answer is to its sources, from 0 to 1: an
// LLM asked to judge. Optional.
type Judge interface {
	Faithfulness(ctx context.Context, question, answer string, sources []string) (float64, error)
}

// Question is one question of an evaluation set.
type Question struct {
	Query  string
	Author string
}

// AnswerScores is the evaluation of answers to a question set.
//
//   - Groundedness: the share of an answer's sentences whose content words
//     are, for at least SupportShare of them, in one of its cited sources,
//     averaged over answered questions. A sentence without content words
//     (a list marker) or ending with a colon (a lead-in) is not judged.
//   - CitationPrecision: the share of citations [n] whose source supports
//     the sentence they are attached to.
//   - RefusalRate: the share of questions refused or answered with the
//     answerer's "nothing found".
//   - Latencies: first token and whole answer, p50 and p95, in ms.
//   - Judge: the LLM judge's mean faithfulness, when one is configured.
type AnswerScores struct {
	Questions         int     `json:"questions"`
	Answered          int     `json:"answered"`
	Errors            int     `json:"errors"`
	Groundedness      float64 `json:"groundedness"`
	CitationPrecision float64 `json:"citation_precision"`
	RefusalRate       float64 `json:"refusal_rate"`
	FirstTokenP50MS   float64 `json:"first_token_p50_ms"`
	FirstTokenP95MS   float64 `json:"first_token_p95_ms"`
	TotalP50MS        float64 `json:"total_p50_ms"`
	TotalP95MS        float64 `json:"total_p95_ms"`
	Judge             float64 `json:"judge,omitempty"`
	Judged            int     `json:"judged,omitempty"`
}

// Metrics are the scores as a model version's metrics (the evaluation gate
// reads "groundedness").
func (s AnswerScores) Metrics() map[string]float64 {
	m := map[string]float64{
		"groundedness": s.Groundedness, "citation_precision": s.CitationPrecision, "refusal_rate": s.RefusalRate,
		"first_token_p95_ms": s.FirstTokenP95MS, "total_p95_ms": s.TotalP95MS, "eval_questions": float64(s.Questions),
	}
	if s.Judged > 0 {
		m["judge"] = s.Judge
	}
	return m
}

// SupportShare is the share of a sentence's content words that must be in
// a source for the source to support it.
const SupportShare = 0.6

// nothingFound matches the answers that say the twin knows nothing of the
// question: they count as refusals, not as grounded answers.
var nothingFound = regexp.MustCompile(`(?i)\b(couldn't|could not|can't|cannot) find anything\b|\bI don't know\b|\bI can't answer\b`)

// citation matches a citation marker, "[3]".
var citation = regexp.MustCompile(`\[(\d{1,3})\]`)

// AnswersOptions tune Answers.
type AnswersOptions struct {
	Judge       Judge // nil: no judge
	Concurrency int   // questions in flight; default 4
	// Progress is called after each question.
	Progress func(done, total int)
}

// Answers asks every question and scores the answers.
func Answers(ctx context.Context, asker Asker, docs Documents, questions []Question, opts AnswersOptions) (AnswerScores, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	type result struct {
		answer          Answer
		err             error
		grounded        float64
		judged          bool
		cited, support  int
		refused, scored bool
		judge           float64
	}
	results := make([]result, len(questions))
	cache := &docCache{src: docs, byID: map[string]string{}}
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, q := range questions {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &results[i]
			r.answer, r.err = asker.Ask(ctx, q.Query, q.Author)
			if r.err == nil {
				r.refused = r.answer.Refused || nothingFound.MatchString(r.answer.Text)
				if !r.refused {
					sources, err := cache.texts(ctx, r.answer.Sources)
					if err != nil {
						r.err = err
					} else {
						r.grounded, r.cited, r.support, r.scored = judgeAnswer(r.answer.Text, sources)
						if opts.Judge != nil {
							if f, err := opts.Judge.Faithfulness(ctx, q.Query, r.answer.Text, sources); err == nil {
								r.judge, r.judged = f, true
							}
						}
					}
				}
			}
			mu.Lock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(questions))
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return AnswerScores{}, err
	}
	s := AnswerScores{Questions: len(questions)}
	var first, total []float64
	var grounded, judge float64
	var scored, cited, supported, refused int
	for _, r := range results {
		if r.err != nil {
			s.Errors++
			continue
		}
		s.Answered++
		first = append(first, ms(r.answer.FirstToken))
		total = append(total, ms(r.answer.Total))
		if r.refused {
			refused++
			continue
		}
		if r.scored {
			grounded += r.grounded
			scored++
		}
		cited += r.cited
		supported += r.support
		if r.judged {
			judge += r.judge
			s.Judged++
		}
	}
	if s.Answered == 0 {
		return s, fmt.Errorf("no question of %d was answered (the first error: %w)", len(questions), firstErr(results, func(r result) error { return r.err }))
	}
	s.RefusalRate = float64(refused) / float64(s.Answered)
	if scored > 0 {
		s.Groundedness = grounded / float64(scored)
	}
	if cited > 0 {
		s.CitationPrecision = float64(supported) / float64(cited)
	}
	if s.Judged > 0 {
		s.Judge = judge / float64(s.Judged)
	}
	s.FirstTokenP50MS, s.FirstTokenP95MS = percentile(first, 50), percentile(first, 95)
	s.TotalP50MS, s.TotalP95MS = percentile(total, 50), percentile(total, 95)
	return s, nil
}

func firstErr[T any](rs []T, get func(T) error) error {
	for _, r := range rs {
		if err := get(r); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the p-th percentile of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// judgeAnswer scores one answer against its sources' texts: the share of
// judged sentences that some source supports, the citations and how many
// of them support their sentence. ok is false when no sentence has content
// words.
func judgeAnswer(answer string, sources []string) (grounded float64, cited, supported int, ok bool) {
	words := make([]map[string]bool, len(sources))
	for i, s := range sources {
		words[i] = contentSet(s)
	}
	// A citation after the sentence's stop ("... them. [1]") is cut as a
	// sentence of its own: it belongs to the sentence before.
	type claim struct {
		content []string
		cites   []int
	}
	var claims []claim
	for _, sentence := range llm.Sentences(answer) {
		var cites []int
		for _, m := range citation.FindAllStringSubmatch(sentence, -1) {
			n, _ := strconv.Atoi(m[1])
			cites = append(cites, n)
		}
		bare := strings.TrimSpace(citation.ReplaceAllString(sentence, " "))
		if strings.HasSuffix(bare, ":") {
			continue // a lead-in ("Here is what I wrote:"), not a claim
		}
		content := contentWords(bare)
		if len(content) == 0 && len(claims) > 0 {
			claims[len(claims)-1].cites = append(claims[len(claims)-1].cites, cites...)
			continue
		}
		claims = append(claims, claim{content, cites})
	}
	judged, backed := 0, 0
	for _, c := range claims {
		cited += len(c.cites)
		if len(c.content) == 0 {
			continue
		}
		judged++
		if slices.ContainsFunc(words, func(w map[string]bool) bool { return supports(w, c.content) }) {
			backed++
		}
		for _, n := range c.cites {
			if n >= 1 && n <= len(words) && supports(words[n-1], c.content) {
				supported++
			}
		}
	}
	if judged == 0 {
		return 0, cited, supported, false
	}
	return float64(backed) / float64(judged), cited, supported, true
}

// supports reports whether a source's words hold at least SupportShare of
// a sentence's content words.
func supports(source map[string]bool, content []string) bool {
	in := 0
	for _, w := range content {
		if source[w] {
			in++
		}
	}
	return float64(in) >= SupportShare*float64(len(content))
}

// contentWords are the stemmed words of text that are not stop words.
func contentWords(text string) []string {
	var out []string
	for _, t := range embed.Tokens(text) {
		if !embed.IsStopWord(t) {
			out = append(out, embed.Stem(t))
		}
	}
	return out
}

func contentSet(text string) map[string]bool {
	set := map[string]bool{}
	for _, w := range contentWords(text) {
		set[w] = true
	}
	return set
}

// docCache reads each cited document once per evaluation.
type docCache struct {
	src  Documents
	mu   sync.Mutex
	byID map[string]string
}

func (c *docCache) texts(ctx context.Context, ids []string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		c.mu.Lock()
		t, ok := c.byID[id]
		c.mu.Unlock()
		if !ok {
			var err error
			if t, err = c.src.Text(ctx, id); err != nil {
				return nil, fmt.Errorf("read cited document %s: %w", id, err)
			}
			c.mu.Lock()
			c.byID[id] = t
			c.mu.Unlock()
		}
		out[i] = t
	}
	return out, nil
}

// ReadQuestions reads an evaluation set: JSON lines with the question in
// "query", "question" or "instruction" (a dataset's instruction pairs) and
// an optional "author". Blank lines are skipped; a line that is not a JSON
// object or holds no question is skipped and reported by its number in
// bad. The error is the reader's.
func ReadQuestions(r io.Reader) (qs []Question, bad []string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l map[string]any
		if json.Unmarshal(line, &l) != nil {
			bad = append(bad, fmt.Sprintf("line %d: not a JSON object", n))
			continue
		}
		var q Question
		for _, k := range []string{"query", "question", "instruction"} {
			if s, ok := l[k].(string); ok && strings.TrimSpace(s) != "" {
				q.Query = s
				break
			}
		}
		if a, ok := l["author"].(string); ok {
			q.Author = a
		}
		if q.Query == "" {
			bad = append(bad, fmt.Sprintf("line %d: no query, question or instruction", n))
			continue
		}
		qs = append(qs, q)
	}
	return qs, bad, sc.Err()
}
