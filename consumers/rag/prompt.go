package rag

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/models/llm"
)

// estimateTokens is the usual four characters a token: the prompt goes to
// a model whose tokenizer the worker does not have, and the budget keeps a
// margin for the difference.
func estimateTokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// voice is the system prompt. %s is the author ("the author" when unknown).
const voice = `You are the digital twin of %s. Answer the question in the first person, in %s's voice and style, using only the context below: passages of %s's own writing, numbered [1], [2] and so on. Cite the passages you use with their numbers, like [2]. If the context does not answer the question, say so plainly instead of guessing.`

// buildPrompt puts the author's voice, the passages and the question into
// messages that fit budget tokens: passages in rank order, the last one
// cut at a sentence boundary, those that do not fit left out. It returns
// the passages as they were used.
func buildPrompt(author, question string, passages []llm.Passage, budget int) ([]llm.Message, []llm.Passage) {
	if author == "" {
		author = "the author"
	}
	system := fmt.Sprintf(voice, author, author, author)
	left := budget - estimateTokens(system) - estimateTokens(question)
	var b strings.Builder
	b.WriteString(system)
	b.WriteString("\n\nContext:\n")
	var used []llm.Passage
	for _, p := range passages {
		head := fmt.Sprintf("\n[%d] %s", len(used)+1, p.Title)
		if p.Link != "" {
			head += " (" + p.Link + ")"
		}
		head += "\n"
		room := left - estimateTokens(head)
		if room < 32 {
			break
		}
		text := p.Text
		if estimateTokens(text) > room {
			text = cutAtSentence(text, room*4)
			if text == "" {
				break
			}
		}
		b.WriteString(head)
		b.WriteString(text)
		b.WriteString("\n")
		left -= estimateTokens(head) + estimateTokens(text)
		p.Text = text
		used = append(used, p)
	}
	return []llm.Message{
		{Role: llm.RoleSystem, Content: b.String()},
		{Role: llm.RoleUser, Content: question},
	}, used
}

// cutAtSentence returns the longest prefix of s, at most maxChars runes,
// that ends a sentence; or "" when there is none.
func cutAtSentence(s string, maxChars int) string {
	if maxChars <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= maxChars {
		return s
	}
	r = r[:maxChars]
	for i := len(r) - 1; i > 0; i-- {
		switch r[i] {
		case '.', '!', '?', '\n':
			if i+1 == len(r) || r[i+1] == ' ' || r[i+1] == '\n' || r[i] == '\n' {
				return strings.TrimSpace(string(r[:i+1]))
			}
		}
	}
	return ""
}
