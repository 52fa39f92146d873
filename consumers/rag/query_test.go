package rag

import (
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/llm"
)

func TestMatchAuthor(t *testing.T) {
	t.Parallel()
	names := []string{"Simon Willison", "Paul Iusztin", "Maxime Labonne", "Paul Graham"}
	tests := []struct{ q, want string }{
		{"What does Simon Willison think about SQLite?", "Simon Willison"},
		{"simon willison's take on datasette", "Simon Willison"},
		{"What did Simon write about jq?", "Simon Willison"},         // a first name only one author has
		{"What does Paul think about essays?", ""},                   // two Pauls: no guess
		{"What does Paul Graham think about essays?", "Paul Graham"}, // the full name settles it
		{"How do LLM twins work?", ""},                               // nobody named
		{"what would labonne say about merging models", "Maxime Labonne"},
	}
	for _, tt := range tests {
		if got := matchAuthor(tt.q, names); got != tt.want {
			t.Errorf("matchAuthor(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestMatchCategory(t *testing.T) {
	t.Parallel()
	if got := matchCategory("Which repository has your datasette plugins?"); got != "repositories" {
		t.Errorf("got %q", got)
	}
	if got := matchCategory("What did you post about SQLite?"); got != "" {
		t.Errorf("got %q, want no category", got)
	}
}

func TestBuildPromptFitsTheBudget(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("This sentence is about SQLite and nothing else. ", 200)
	passages := []llm.Passage{
		{ID: "1", Title: "First", Link: "https://a.example/1", Text: "Short first passage."},
		{ID: "2", Title: "Second", Text: long},
		{ID: "3", Title: "Third", Text: "Never reached."},
	}
	msgs, used := buildPrompt("Simon Willison", "What about SQLite?", passages, 600)
	if len(msgs) != 2 || msgs[0].Role != llm.RoleSystem || msgs[1].Content != "What about SQLite?" {
		t.Fatalf("messages: %+v", msgs)
	}
	if n := estimateTokens(msgs[0].Content) + estimateTokens(msgs[1].Content); n > 600 {
		t.Errorf("prompt is %d tokens, budget 600", n)
	}
	if len(used) != 2 || used[0].Text != "Short first passage." {
		t.Fatalf("used %d passages: %+v", len(used), used)
	}
	if !strings.HasSuffix(used[1].Text, "nothing else.") || len(used[1].Text) >= len(long) {
		t.Errorf("second passage not cut at a sentence: ...%q", used[1].Text[max(0, len(used[1].Text)-30):])
	}
	for _, want := range []string{"Simon Willison's voice", "[1] First (https://a.example/1)", "[2] Second"} {
		if !strings.Contains(msgs[0].Content, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
}

func TestByDocumentMakesCitationsMatchSources(t *testing.T) {
	t.Parallel()
	got := byDocument([]llm.Passage{
		{ID: "a1", DocumentID: "a", Text: "first of a", Score: 0.9},
		{ID: "b1", DocumentID: "b", Text: "first of b", Score: 0.8},
		{ID: "a2", DocumentID: "a", Text: "second of a", Score: 0.7},
	})
	if len(got) != 2 || got[0].DocumentID != "a" || got[0].Text != "first of a\n…\nsecond of a" || got[0].Score != 0.9 || got[1].DocumentID != "b" {
		t.Fatalf("byDocument = %+v", got)
	}
	if s := sources(got); len(s) != 2 || s[0].DocumentID != "a" || s[1].DocumentID != "b" {
		t.Fatalf("sources = %+v", s)
	}
}
