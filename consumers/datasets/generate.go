package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/twin-llm/twin/internal/models/llm"
)

// PromptVersion names the prompts below. Change it with any change of
// their text: a dataset record keeps it, so that two datasets made with
// different prompts are never taken for one another.
const PromptVersion = "datasets/v1"

// instructSystem asks for pairs in the author's style. %[1]d is the
// number of pairs, %[2]s the author.
const instructSystem = `You write training data for a model that must answer the way %[2]s writes.
From the extract the user gives, write %[1]d instruction-answer pairs:
- the instruction is what a reader could ask or request, answerable from the extract alone;
- the answer is written as %[2]s would write it: their voice, their words, first person where they use it, only what the extract says.
Reply with JSON only, no prose around it, exactly in this shape:
{"pairs":[{"instruction":"...","answer":"..."}]}`

// rejectedSystem asks for a plain answer without the author's text: the
// kind of reply a model that has not learned the author gives.
const rejectedSystem = `Answer the user's request briefly, as a general assistant.`

// errInvalidOutput is an LLM reply that is not the JSON asked for.
var errInvalidOutput = errors.New("the LLM's reply is not the JSON asked for")

// Pair is one instruction pair an LLM wrote.
type Pair struct {
	Instruction string `json:"instruction"`
	Answer      string `json:"answer"`
}

// ParsePairs reads an LLM's reply to the instruction prompt: the JSON
// object {"pairs":[...]} or a bare array of pairs, possibly inside a
// markdown code fence or after some prose. Pairs with an empty field are
// left out; a reply with no pair left is errInvalidOutput.
func ParsePairs(reply string) ([]Pair, error) {
	s := strings.TrimSpace(reply)
	if i := strings.IndexAny(s, "{["); i >= 0 {
		s = s[i:]
	} else {
		return nil, errInvalidOutput
	}
	if j := strings.LastIndexAny(s, "}]"); j >= 0 {
		s = s[:j+1]
	}
	var pairs []Pair
	var obj struct {
		Pairs []Pair `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(s), &obj); err == nil && obj.Pairs != nil {
		pairs = obj.Pairs
	} else if err := json.Unmarshal([]byte(s), &pairs); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidOutput, err)
	}
	out := pairs[:0]
	for _, p := range pairs {
		p.Instruction, p.Answer = strings.TrimSpace(p.Instruction), strings.TrimSpace(p.Answer)
		if p.Instruction != "" && p.Answer != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errInvalidOutput
	}
	return out, nil
}

// pairsFromLLM asks m for n pairs from an extract; an invalid reply is
// asked again once. It returns errInvalidOutput when both replies are
// invalid, or the model's error.
func pairsFromLLM(ctx context.Context, m llm.Model, author string, e Extract, n int) ([]Pair, error) {
	if author == "" {
		author = "the author"
	}
	req := llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: fmt.Sprintf(instructSystem, n, author)},
		{Role: llm.RoleUser, Content: extractPrompt(e)},
	}, MaxTokens: 2048}
	var lastErr error
	for range 2 {
		reply, _, err := llm.Complete(ctx, m, req)
		if err != nil {
			return nil, err
		}
		pairs, err := ParsePairs(reply)
		if err == nil {
			return pairs[:min(n, len(pairs))], nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func extractPrompt(e Extract) string {
	var b strings.Builder
	if e.Title != "" {
		fmt.Fprintf(&b, "Title: %s\n", e.Title)
	}
	if e.Heading != "" {
		fmt.Fprintf(&b, "Section: %s\n", e.Heading)
	}
	b.WriteString("Extract:\n")
	b.WriteString(e.Text)
	return b.String()
}

// rejectedAnswer is the model's answer to prompt without the author's
// text in its prompt. The extractive answerer reads its passages rather
// than its messages, and is given the chosen text as the one passage: its
// reply is then what the embedded twin in service answers from that text.
func rejectedAnswer(ctx context.Context, m llm.Model, prompt, chosen, docID string) (string, error) {
	reply, _, err := llm.Complete(ctx, m, llm.Request{
		Messages:  []llm.Message{{Role: llm.RoleSystem, Content: rejectedSystem}, {Role: llm.RoleUser, Content: prompt}},
		Question:  prompt,
		Passages:  []llm.Passage{{ID: docID, DocumentID: docID, Text: chosen}},
		MaxTokens: 512,
	})
	return strings.TrimSpace(reply), err
}

// headingInstruction turns a heading into an instruction: a question
// stays as it is, anything else asks for the section.
func headingInstruction(heading, title string) string {
	if strings.HasSuffix(heading, "?") {
		return heading
	}
	if title != "" && title != heading {
		return fmt.Sprintf("Write the section %q of %q.", heading, title)
	}
	return fmt.Sprintf("Write about %q.", heading)
}

func titleInstruction(title string) string {
	return fmt.Sprintf("Write the opening of %q.", title)
}
