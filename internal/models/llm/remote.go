package llm

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrIncomplete is a stream that broke after it began: the connection
// dropped, the server reported an error in the middle of the stream, or
// the stream ended without a finish reason. Text emitted before it is a
// partial reply. A failure before the first chunk (a refused request, a
// wrong URL, an error as the first event) is not ErrIncomplete, and
// neither is a cancelled context.
var ErrIncomplete = errors.New("llm: the reply stopped before the model finished")

// DefaultGenerationTimeout bounds one generation of a remote model, from
// the request to the last token. Generous: a small model on a CPU
// (llama.cpp, Ollama) can take minutes for a long reply.
const DefaultGenerationTimeout = 5 * time.Minute

// promptMessages is the chat prompt of req: its Messages, or, for a caller
// that only filled Question (and Passages), a prompt built from those so
// that the passages are not silently dropped.
func promptMessages(req Request) ([]Message, error) {
	if len(req.Messages) > 0 {
		return req.Messages, nil
	}
	if strings.TrimSpace(req.Question) == "" {
		return nil, errors.New("llm: the request has no messages and no question")
	}
	if len(req.Passages) == 0 {
		return []Message{{Role: RoleUser, Content: req.Question}}, nil
	}
	var b strings.Builder
	b.WriteString("Answer the question from these passages of your own writing, citing them as [n].\n")
	for i, p := range req.Passages {
		b.WriteString("\n[" + strconv.Itoa(i+1) + "] ")
		if p.Title != "" {
			b.WriteString(p.Title + ": ")
		}
		b.WriteString(p.Text)
		b.WriteByte('\n')
	}
	return []Message{
		{Role: RoleSystem, Content: b.String()},
		{Role: RoleUser, Content: req.Question},
	}, nil
}

// estimateTokens guesses the tokens of text for a server that does not
// report usage: about four bytes a token, the usual rule for English with
// BPE tokenizers. It is an estimate for traces and budgets, not a count.
func estimateTokens(text string) int {
	return estimateTokensOfBytes(len(text))
}

func estimateTokensOfBytes(n int) int { return (n + 3) / 4 }

// estimatePromptTokens adds the few tokens each message costs in a chat
// template (role markers and separators) to the estimate of its content.
func estimatePromptTokens(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += 4 + estimateTokens(m.Content)
	}
	return n
}
