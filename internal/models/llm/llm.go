// Package llm generates the twin's answers: one Model interface with the
// embedded extractive answerer, an OpenAI-compatible chat-completions
// client and a SageMaker endpoint client, all streamed.
//
// # Models
//
//   - Extractive (NewExtractive, or the zero value): the embedded default.
//     No weights, no network, deterministic: it answers with the author's
//     own sentences from the ranked passages, says it is quoting, and
//     cites each passage as [n]. Usage is counted in words.
//   - OpenAI (NewOpenAI): any OpenAI-compatible /v1/chat/completions
//     server (vLLM, TGI, llama.cpp, Ollama, OpenAI) through openai-go,
//     streamed with server-sent events.
//   - SageMaker (NewSageMaker): a SageMaker real-time endpoint serving the
//     TGI container's Messages API, through aws-sdk-go-v2's
//     InvokeEndpointWithResponseStream.
//
// Every model emits text as it is produced and returns the Usage the
// server reports, or an estimate when it reports none. A failure after a
// stream has begun wraps ErrIncomplete (what was emitted is partial); a
// cancelled context ends a stream at once and the error wraps ctx.Err();
// an error of emit is returned as it is; a configuration that cannot
// work is ErrConfig.
//
// README.md says what the fake servers of the tests prove and what they
// do not.
package llm

import (
	"context"
	"errors"
	"strings"
)

// Roles of a Message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a chat prompt.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Passage is one piece of retrieved context, in the order the reranker
// ranked it. A generative model reads the passages inside Messages; the
// extractive answerer composes its answer from them directly.
type Passage struct {
	ID         string  `json:"id"` // the vector store's point id
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title,omitempty"`
	Link       string  `json:"link,omitempty"`
	Text       string  `json:"text"`
	Score      float64 `json:"score"`
}

// Request is one generation.
type Request struct {
	// Messages is the prompt for a generative model: the system message
	// (the author's voice and the context) and the user's question.
	Messages []Message
	// Question and Passages are the same request in structured form, for
	// models that work from passages rather than a prompt.
	Question string
	Passages []Passage
	// MaxTokens bounds the reply; 0 is the model's default.
	MaxTokens int
	// Temperature is the sampling temperature; nil is the model's default.
	Temperature *float64
}

// Usage counts the tokens of one generation, as the model reports them
// (or estimates them, for models that do not).
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Model is a language model that streams its reply.
type Model interface {
	// Name identifies the model in traces ("extractive", the served model
	// id, the endpoint name).
	Name() string
	// Stream generates the reply to req, calling emit with each piece of
	// text in order as it arrives. It stops at the first error of emit
	// and returns it. The Usage is valid when the error is nil.
	Stream(ctx context.Context, req Request, emit func(text string) error) (Usage, error)
}

// ErrConfig is a model configuration that cannot work (a missing URL,
// endpoint or model name).
var ErrConfig = errors.New("llm: invalid configuration")

// Complete runs m and returns the whole reply, for the steps that need an
// answer rather than a stream (self-query, query expansion).
func Complete(ctx context.Context, m Model, req Request) (string, Usage, error) {
	var b strings.Builder
	u, err := m.Stream(ctx, req, func(s string) error {
		b.WriteString(s)
		return nil
	})
	return b.String(), u, err
}
