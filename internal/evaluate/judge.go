package evaluate

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/twin-llm/twin/internal/models/llm"
)

// LLMJudge asks a model how faithful an answer is to its sources, on a
// scale of 1 to 5, mapped to [0, 1].
type LLMJudge struct{ Model llm.Model }

// JudgePromptVersion names the judge's prompt in reports: a changed prompt
// makes scores incomparable.
const JudgePromptVersion = "faithfulness/v1"

var firstDigit = regexp.MustCompile(`[1-5]`)

// Faithfulness implements Judge.
func (j LLMJudge) Faithfulness(ctx context.Context, question, answer string, sources []string) (float64, error) {
	var b strings.Builder
	for i, s := range sources {
		fmt.Fprintf(&b, "[%d] %s\n\n", i+1, truncate(s, 4000))
	}
	prompt := "Sources:\n\n" + b.String() + "Question: " + question + "\n\nAnswer: " + answer +
		"\n\nOn a scale of 1 to 5, how faithful is the answer to the sources: 5 when every statement " +
		"of it is stated in the sources, 1 when it is mostly not. Reply with the number only."
	zero := 0.0
	out, _, err := llm.Complete(ctx, j.Model, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		MaxTokens: 5, Temperature: &zero})
	if err != nil {
		return 0, fmt.Errorf("judge: %w", err)
	}
	d := firstDigit.FindString(out)
	if d == "" {
		return 0, fmt.Errorf("judge: %q is not a score from 1 to 5", out)
	}
	n, _ := strconv.Atoi(d)
	return float64(n-1) / 4, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
