package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket/wsjson"
	"github.com/nats-io/nuid"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/evaluate"
	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func newEvalAnswersCmd(g *globals) *cobra.Command {
	var questions, author, judgeURL, judgeModel, judgeKey, metricsOut string
	var limit, concurrency int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "answers",
		Short: "Answer quality of the model in service: groundedness, citation precision, refusals, latency",
		Long: `Ask the running twin every question of a set over the chat API, as users do, and score the
answers against the documents they cite:

  groundedness        share of answer sentences whose content words are, for at least 60%,
                      in one of the cited documents (averaged over answered questions)
  citation precision  share of citations [n] whose document supports the sentence they follow
  refusal rate        share of questions refused or answered with "nothing found"
  latency             first token and whole answer, p50 and p95

With --judge-url (an OpenAI-compatible server) an LLM also rates each answer's faithfulness
to its sources (1 to 5, reported from 0 to 1).

The questions come from --questions (JSON lines with "query", "question" or "instruction",
and an optional "author"); by default from the test split of an instruction dataset built
from the warehouse (twin dataset build --kind instruct), i.e. questions about the author's own
writing. --metrics-out writes the figures as the metrics file a training job leaves for the
evaluation gate (docs/training.md).`,
		Example: `  twin eval answers --limit 50
  twin eval answers --questions questions.jsonl --json
  twin eval answers --judge-url http://localhost:8000/v1 --judge-model qwen2.5-7b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			qs, err := g.evalQuestions(ctx, questions, author)
			if err != nil {
				return err
			}
			if limit > 0 && len(qs) > limit {
				qs = qs[:limit]
			}
			if len(qs) == 0 {
				return errors.New("no questions to ask")
			}
			m := newMeter(g.stderr, "answered", int64(len(qs)), false)
			defer m.Done()
			opts := evaluate.AnswersOptions{Concurrency: concurrency, Progress: func(done, total int) {
				m.Set(int64(done), "")
			}}
			if judgeURL != "" {
				m, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: judgeURL, Model: judgeModel, APIKey: judgeKey})
				if err != nil {
					return err
				}
				opts.Judge = evaluate.LLMJudge{Model: m}
			}
			res, err := evaluate.Answers(ctx, wsAsker{g}, gatewayDocs{g}, qs, opts)
			m.Done()
			if err != nil {
				return err
			}
			if metricsOut != "" {
				data, _ := json.MarshalIndent(res.Metrics(), "", "  ")
				if err := os.WriteFile(metricsOut, append(data, '\n'), 0o644); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(g, res)
			}
			fmt.Fprintf(g.stdout, "questions           %d (%d answered, %d errors)\ngroundedness        %.4f\ncitation precision  %.4f\nrefusal rate        %.4f\nfirst token p50/p95 %.0f / %.0f ms\nanswer p50/p95      %.0f / %.0f ms\n",
				res.Questions, res.Answered, res.Errors, res.Groundedness, res.CitationPrecision, res.RefusalRate,
				res.FirstTokenP50MS, res.FirstTokenP95MS, res.TotalP50MS, res.TotalP95MS)
			if res.Judged > 0 {
				fmt.Fprintf(g.stdout, "judge               %.4f (%d judged, %s)\n", res.Judge, res.Judged, evaluate.JudgePromptVersion)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&questions, "questions", "", "JSON lines of questions (default: the test split of an instruction dataset built from the warehouse)")
	f.StringVar(&author, "author", "", "ask about this author's writing (and build the default questions from it)")
	f.IntVar(&limit, "limit", 100, "ask at most this many questions (0: all)")
	f.IntVar(&concurrency, "concurrency", 4, "questions in flight")
	f.StringVar(&judgeURL, "judge-url", "", "OpenAI-compatible base URL of an LLM judge (e.g. http://localhost:8000/v1)")
	f.StringVar(&judgeModel, "judge-model", "", "the judge's model name")
	f.StringVar(&judgeKey, "judge-api-key", "", "the judge's API key")
	f.StringVar(&metricsOut, "metrics-out", "", "also write the figures as a metrics.json for the evaluation gate")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// evalQuestions reads the question set, or builds the default one.
func (g *globals) evalQuestions(ctx context.Context, file, author string) ([]evaluate.Question, error) {
	if file == "" {
		dir, err := os.MkdirTemp("", "twin-eval-questions-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		var res gateway.DatasetResponse
		if err := g.postJSON(ctx, "/v1/datasets", gateway.DatasetRequest{Kind: "instruct", Author: author, Out: dir}, &res); err != nil {
			return nil, fmt.Errorf("build the default questions (give --questions instead): %w", err)
		}
		file = filepath.Join(dir, "test.jsonl")
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	qs, bad, err := evaluate.ReadQuestions(fh)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	for _, b := range bad {
		fmt.Fprintf(g.stderr, "%s: %s, skipped\n", file, b)
	}
	for i := range qs {
		if qs[i].Author == "" {
			qs[i].Author = author
		}
	}
	return qs, nil
}

// wsAsker asks over the gateway's chat WebSocket, one connection a
// question, as a user's page does.
type wsAsker struct{ g *globals }

func (a wsAsker) Ask(ctx context.Context, question, author string) (evaluate.Answer, error) {
	c := &chatClient{g: a.g}
	if err := c.dial(ctx); err != nil {
		return evaluate.Answer{}, err
	}
	defer c.close()
	id := strings.ReplaceAll(nuid.Next(), "-", "")
	start := time.Now()
	if err := wsjson.Write(ctx, c.conn, gateway.ClientMessage{Type: gateway.MsgAsk, ID: id, Query: question, Author: author}); err != nil {
		return evaluate.Answer{}, err
	}
	var ans evaluate.Answer
	for {
		var f gateway.ServerMessage
		if err := wsjson.Read(ctx, c.conn, &f); err != nil {
			return evaluate.Answer{}, err
		}
		if f.ID != id {
			continue
		}
		switch f.Type {
		case gateway.MsgToken:
			if ans.FirstToken == 0 {
				ans.FirstToken = time.Since(start)
			}
		case gateway.MsgDone:
			ans.Total = time.Since(start)
			ans.Text = f.Answer
			for _, s := range f.Sources {
				ans.Sources = append(ans.Sources, s.DocumentID)
			}
			return ans, nil
		case gateway.MsgError:
			if f.Code == "refused" {
				ans.Refused, ans.Total = true, time.Since(start)
				return ans, nil
			}
			return evaluate.Answer{}, fmt.Errorf("%s (%s)", f.Message, f.Code)
		}
	}
}

// gatewayDocs reads documents through the gateway's /v1/docs.
type gatewayDocs struct{ g *globals }

func (d gatewayDocs) Text(ctx context.Context, id string) (string, error) {
	var doc warehouse.Document
	if err := d.g.getJSON(ctx, "/v1/docs/"+url.PathEscape(id), &doc); err != nil {
		return "", err
	}
	return doc.Title + "\n" + doc.Content, nil
}
