package evaluate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/models/llm"
)

// judgeServer speaks OpenAI's streamed chat completions and replies with
// reply, as a model served by vLLM or Ollama would.
func judgeServer(t *testing.T, reply string) llm.Model {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string }
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 1 || !strings.Contains(req.Messages[0].Content, "[1] JetStream") {
			t.Errorf("judge request: %+v, %v", req, err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		chunk, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion.chunk", "model": "judge",
			"choices": []map[string]any{{"index": 0, "delta": map[string]string{"role": "assistant", "content": reply}}}})
		stop, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion.chunk", "model": "judge",
			"choices": []map[string]any{{"index": 0, "delta": map[string]string{}, "finish_reason": "stop"}}})
		fmt.Fprintf(w, "data: %s\n\ndata: %s\n\ndata: [DONE]\n\n", chunk, stop)
	}))
	t.Cleanup(srv.Close)
	m, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "judge"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLLMJudgeMapsTheScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reply string
		want  float64
		ok    bool
	}{
		{"5", 1, true},
		{"Score: 3.", 0.5, true},
		{"1", 0, true},
		{"excellent", 0, false},
	} {
		got, err := LLMJudge{Model: judgeServer(t, tc.reply)}.Faithfulness(t.Context(), "q", "a", []string{natsDoc})
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("reply %q: %v, %v; want %v (ok %v)", tc.reply, got, err, tc.want, tc.ok)
		}
	}
}
