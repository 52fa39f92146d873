package evaluate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	natsDoc = "JetStream keeps messages on disk until a consumer acknowledges them. A crashed consumer gets them again."
	k8sDoc  = "Kubernetes is heavy for a side project. I run everything on one small VM."
)

func TestJudgeAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		answer           string
		sources          []string
		grounded         float64
		cited, supported int
		ok               bool
	}{
		{"quoted and cited", "Here is what I wrote about this: JetStream keeps messages on disk until a consumer acknowledges them. [1]",
			[]string{natsDoc}, 1, 1, 1, true},
		{"half made up", "JetStream keeps messages on disk. Pelicans ride bicycles through Paris. [1]",
			[]string{natsDoc}, 0.5, 1, 0, true},
		{"right words, wrong citation", "I run everything on one small VM. [1]", []string{natsDoc, k8sDoc}, 1, 1, 0, true},
		{"right citation of the second source", "I run everything on one small VM. [2]", []string{natsDoc, k8sDoc}, 1, 1, 1, true},
		{"a citation past the sources", "A crashed consumer gets them again. [3]", []string{natsDoc}, 1, 1, 0, true},
		{"nothing to judge", "[1]", []string{natsDoc}, 0, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, c, s, ok := judgeAnswer(tc.answer, tc.sources)
			if math.Abs(g-tc.grounded) > 1e-9 || c != tc.cited || s != tc.supported || ok != tc.ok {
				t.Fatalf("judgeAnswer = %v, %d cited, %d supported, %v; want %v, %d, %d, %v", g, c, s, ok, tc.grounded, tc.cited, tc.supported, tc.ok)
			}
		})
	}
}

// answers is an Asker that answers from a table, as a twin would: what is
// tested here is the arithmetic of Answers, not a twin.
type answers map[string]Answer

func (a answers) Ask(_ context.Context, q, _ string) (Answer, error) {
	ans, ok := a[q]
	if !ok {
		return Answer{}, errors.New("connection refused")
	}
	return ans, nil
}

type docs map[string]string

func (d docs) Text(_ context.Context, id string) (string, error) {
	if t, ok := d[id]; ok {
		return t, nil
	}
	return "", errors.New("not found")
}

func TestAnswersScoresASet(t *testing.T) {
	t.Parallel()
	asker := answers{
		"grounded": {Text: "JetStream keeps messages on disk until a consumer acknowledges them. [1]", Sources: []string{"nats"}, FirstToken: 10 * time.Millisecond, Total: 40 * time.Millisecond},
		"made up":  {Text: "Pelicans ride bicycles through Paris. [1]", Sources: []string{"nats"}, FirstToken: 20 * time.Millisecond, Total: 60 * time.Millisecond},
		"nothing":  {Text: "I couldn't find anything I've written about that.", FirstToken: 5 * time.Millisecond, Total: 5 * time.Millisecond},
		"refused":  {Refused: true},
	}
	qs := []Question{{Query: "grounded"}, {Query: "made up"}, {Query: "nothing"}, {Query: "refused"}, {Query: "down"}}
	got, err := Answers(t.Context(), asker, docs{"nats": natsDoc}, qs, AnswersOptions{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.Questions != 5 || got.Answered != 4 || got.Errors != 1 || got.Groundedness != 0.5 || got.CitationPrecision != 0.5 || got.RefusalRate != 0.5 {
		t.Fatalf("scores %+v", got)
	}
	if got.TotalP95MS != 60 || got.FirstTokenP50MS != 5 {
		t.Fatalf("latencies %+v", got)
	}
	if _, err := Answers(t.Context(), answers{}, docs{}, qs[:1], AnswersOptions{}); err == nil {
		t.Fatal("a set with no answer at all scored without an error")
	}
}

func TestReadQuestionsReadsTheCommonFieldsAndNamesBadLines(t *testing.T) {
	t.Parallel()
	in := `{"query": "a"}

{"question": "b", "author": "Ada"}
not json
{"instruction": "c", "output": "x"}
{"output": "no question"}
`
	qs, bad, err := ReadQuestions(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Question{{Query: "a"}, {Query: "b", Author: "Ada"}, {Query: "c"}}
	if !slices.Equal(qs, want) {
		t.Fatalf("questions %+v, want %+v", qs, want)
	}
	if wantBad := []string{"line 4: not a JSON object", "line 6: no query, question or instruction"}; !slices.Equal(bad, wantBad) {
		t.Fatalf("bad lines %q, want %q", bad, wantBad)
	}
}

func FuzzReadQuestions(f *testing.F) {
	f.Add("{\"query\": \"a\"}\nnot json\n{\"question\": 1}\n")
	f.Add("\xff{\"instruction\": \"\u0000\"}")
	f.Fuzz(func(t *testing.T, in string) {
		qs, _, err := ReadQuestions(strings.NewReader(in))
		if err != nil {
			return // a line over the scanner's bound
		}
		for _, q := range qs {
			if strings.TrimSpace(q.Query) == "" {
				t.Fatalf("a question without text from %q", in)
			}
		}
	})
}
