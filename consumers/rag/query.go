package rag

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twin-llm/twin/internal/models/embed"
	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// categoryWords map a word of the question to the warehouse category it
// asks about. Only repositories are inferred: "article" and "post" are
// used loosely for any writing, and a wrong filter loses every answer.
var categoryWords = map[string]string{
	"repository": warehouse.Repositories, "repositories": warehouse.Repositories,
	"repo": warehouse.Repositories, "repos": warehouse.Repositories, "codebase": warehouse.Repositories,
}

// authorCache keeps the warehouse's author list for a short time: every
// question needs it and it changes rarely.
type authorCache struct {
	src Authors
	ttl time.Duration

	mu      sync.Mutex
	names   []string
	fetched time.Time
}

func (c *authorCache) get(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names != nil && time.Since(c.fetched) < c.ttl {
		return c.names, nil
	}
	authors, err := c.src.Authors(ctx)
	if err != nil {
		return nil, fmt.Errorf("list authors: %w", err)
	}
	names := make([]string, 0, len(authors))
	for _, a := range authors {
		names = append(names, a.Name)
	}
	c.names, c.fetched = names, time.Now()
	return names, nil
}

// selfQuery is what a question says about the search filters.
type selfQuery struct {
	Author   string `json:"author,omitempty"`
	Category string `json:"category,omitempty"`
	Via      string `json:"via"` // "request", "match", "llm" or "none"
}

// matchAuthor finds the author a question names: a full name wins, else a
// first or last name that only one author has. Names are compared as
// token sequences, so "Simon Willison's" matches "Simon Willison".
func matchAuthor(question string, names []string) string {
	q := embed.Tokens(question)
	best, bestLen := "", 0
	for _, n := range names {
		toks := embed.Tokens(n)
		if len(toks) > bestLen && containsSeq(q, toks) {
			best, bestLen = n, len(toks)
		}
	}
	if best != "" {
		return best
	}
	owners := map[string][]string{}
	for _, n := range names {
		for _, t := range embed.Tokens(n) {
			if len(t) >= 3 && !retrieval.IsQuestionWord(t) {
				owners[t] = append(owners[t], n)
			}
		}
	}
	for _, t := range q {
		if o := owners[t]; len(o) == 1 {
			return o[0]
		}
	}
	return ""
}

func containsSeq(hay, needle []string) bool {
	if len(needle) == 0 {
		return false
	}
outer:
	for i := 0; i+len(needle) <= len(hay); i++ {
		for j, t := range needle {
			if hay[i+j] != t {
				continue outer
			}
		}
		return true
	}
	return false
}

func matchCategory(question string) string {
	for _, t := range embed.Tokens(question) {
		if c, ok := categoryWords[t]; ok {
			return c
		}
	}
	return ""
}

// llmAuthor asks the model which listed author a question is about; the
// answer counts only when it is one of the names.
func llmAuthor(ctx context.Context, m llm.Model, question string, names []string) (string, llm.Usage, error) {
	prompt := "Authors: " + strings.Join(names, "; ") + "\n\nQuestion: " + question +
		"\n\nWhich of the authors is the question about? Answer with the author's exact name, or with none."
	out, u, err := llm.Complete(ctx, m, llm.Request{
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		MaxTokens: 20, Temperature: zero(),
	})
	if err != nil {
		return "", u, err
	}
	out = strings.Trim(strings.TrimSpace(out), `."'`)
	for _, n := range names {
		if warehouse.NormalizeAuthor(n) == warehouse.NormalizeAuthor(out) {
			return n, u, nil
		}
	}
	return "", u, nil
}

func zero() *float64 { z := 0.0; return &z }

// llmVariants asks the model for n-1 rewrites of the question, one per
// line; the original is always kept first.
func llmVariants(ctx context.Context, m llm.Model, question string, n int) ([]string, llm.Usage, error) {
	if n <= 1 {
		return []string{question}, llm.Usage{}, nil
	}
	prompt := fmt.Sprintf("Write %d different versions of the question below, to search a collection of "+
		"articles, posts and code for the passages that answer it. Use other words and angles. "+
		"One question per line, no numbering, nothing else.\n\nQuestion: %s", n-1, question)
	out, u, err := llm.Complete(ctx, m, llm.Request{
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		MaxTokens: 60 * n,
	})
	if err != nil {
		return []string{question}, u, err
	}
	qs := []string{question}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "-*0123456789.) "))
		if line != "" && len(qs) < n && !strings.EqualFold(line, question) {
			qs = append(qs, line)
		}
	}
	return qs, u, nil
}
