package llm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var _ Model = (*Extractive)(nil)

func passages(texts ...string) []Passage {
	out := make([]Passage, len(texts))
	for i, text := range texts {
		out[i] = Passage{ID: strconv.Itoa(i), DocumentID: "doc" + strconv.Itoa(i), Text: text}
	}
	return out
}

// streamAll runs m and returns every piece it emitted.
func streamAll(t *testing.T, m Model, req Request) ([]string, Usage) {
	t.Helper()
	var pieces []string
	u, err := m.Stream(context.Background(), req, func(s string) error {
		pieces = append(pieces, s)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return pieces, u
}

// checkQuotes fails unless every word of answer after the lead sentence is
// a word of the passages, or a citation of one of them: the extractive
// answerer makes nothing up. Words are compared as runs of letters and
// digits, since markdown syntax and citations sit between them.
func checkQuotes(t *testing.T, answer string, ps []Passage) {
	t.Helper()
	if answer == extractiveNothing {
		return
	}
	lead, rest, ok := strings.Cut(answer, "\n\n")
	if !ok || !strings.HasPrefix(lead, "Here is what I wrote about this") || !strings.HasSuffix(lead, ":") {
		t.Fatalf("answer %q starts with neither a lead sentence and a blank line, nor is it the no-answer sentence", answer)
	}
	words := map[string]bool{}
	for _, p := range ps {
		eachWord(p.Text, func(w string) { words[w] = true })
	}
	if !citationAtEnd.MatchString(rest) {
		t.Errorf("answer %q does not end with a citation (or a block after one)", answer)
	}
	rest = citationMark.ReplaceAllString(rest, "")
	eachWord(rest, func(w string) {
		if !words[w] {
			t.Errorf("answer word %q is in no passage (answer %q)", w, answer)
		}
	})
}

var (
	citationMark  = regexp.MustCompile(` \[[0-9]+\]`)
	citationAtEnd = regexp.MustCompile("(?s)\\[[0-9]+\\][.!?:]?(\n\n(```.*```|> [^\n]*|([-0-9.]+ [^\n]*\n?)+))?$")
)

const (
	natsPassage = "I moved our pipeline to NATS JetStream last year. Lunch was good that day. " +
		"The consumers ack each message only after the write succeeds."
	k8sPassage     = "Kubernetes is heavy for a side project. I run everything on one small VM."
	durablePassage = "JetStream keeps messages on disk, so a consumer that crashes resumes where it stopped."
)

func TestExtractiveQuotesRelevantSentencesWithCitations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		question string
		passages []Passage
		opts     []ExtractiveOption
		want     string
	}{
		{
			name:     "best sentences of two passages, in passage order, each cited",
			question: "Why did you choose NATS JetStream for the pipeline?",
			passages: passages(natsPassage, k8sPassage, durablePassage),
			want: extractiveIntro + "\n\nI moved our pipeline to NATS JetStream last year [1]." +
				"\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [3].",
		},
		{
			name:     "sentences of one paragraph stay one paragraph, cited once",
			question: "How do consumers ack messages in the pipeline?",
			passages: passages(natsPassage),
			want: extractiveIntro + "\n\nI moved our pipeline to NATS JetStream last year." +
				" The consumers ack each message only after the write succeeds [1].",
		},
		{
			name:     "stems match other forms of a word",
			question: "what about crashing consumers",
			passages: passages(k8sPassage, durablePassage),
			want:     extractiveIntro + "\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [2].",
		},
		{
			name:     "the lead names the one post quoted",
			question: "what about crashing consumers",
			passages: []Passage{{Title: "Durable *consumers*", Text: durablePassage}},
			want: "Here is what I wrote about this in “Durable *consumers*”:" +
				"\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [1].",
		},
		{
			name:     "only the top passages are read",
			question: "JetStream on disk",
			passages: passages(k8sPassage, durablePassage),
			opts:     []ExtractiveOption{WithPassages(1)},
			want:     extractiveNothing,
		},
		{
			name:     "a question of stop words quotes the top passage",
			question: "What do you think about it?",
			passages: passages(k8sPassage, durablePassage),
			opts:     []ExtractiveOption{WithWordBudget(15)},
			want:     extractiveIntro + "\n\nKubernetes is heavy for a side project. I run everything on one small VM [1].",
		},
		{
			name:     "a sentence over the budget is quoted whole",
			question: "consumer crashes",
			passages: passages(durablePassage),
			opts:     []ExtractiveOption{WithWordBudget(8)},
			want:     extractiveIntro + "\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [1].",
		},
		{
			name:     "a sentence over twice the budget is never cut",
			question: "consumer crashes",
			passages: passages(durablePassage),
			opts:     []ExtractiveOption{WithWordBudget(4)},
			want:     extractiveNothing,
		},
		{
			name:     "a heading is not quoted, code comes with the sentence that introduces it",
			question: "how do I tail the JetStream consumer logs",
			passages: passages("# Tailing JetStream logs\n\nTo tail the consumer logs, run this:\n\n```sh\nnats consumer logs --follow\n```\n\nThat is all."),
			want:     extractiveIntro + "\n\nTo tail the consumer logs, run this [1]:\n\n```sh\nnats consumer logs --follow\n```",
		},
		{
			name:     "a list stays a list",
			question: "which JetStream consumer settings matter",
			passages: passages("Three JetStream consumer settings matter:\n\n- AckWait, for slow handlers.\n- MaxDeliver, before the DLQ.\n- The durable name.\n\nThe rest can wait."),
			want:     extractiveIntro + "\n\nThree JetStream consumer settings matter [1]:\n\n- AckWait, for slow handlers.\n- MaxDeliver, before the DLQ.\n- The durable name.",
		},
		{
			name:     "a list item the chunk's end cut to its marker is dropped",
			question: "which JetStream consumer settings matter",
			passages: passages("Three JetStream consumer settings matter:\n\n1. AckWait, for slow handlers.\n2. MaxDeliver, before the DLQ.\n3."),
			want:     extractiveIntro + "\n\nThree JetStream consumer settings matter [1]:\n\n1. AckWait, for slow handlers.\n2. MaxDeliver, before the DLQ.",
		},
		{
			name:     "a colon with nothing after it is not quoted",
			question: "JetStream consumer settings",
			passages: passages("JetStream consumer settings matter. Here they are:"),
			want:     extractiveIntro + "\n\nJetStream consumer settings matter [1].",
		},
		{
			name:     "a sentence repeated by overlapping chunks is quoted once",
			question: "JetStream disk consumer",
			passages: passages(durablePassage+"\n…\n"+durablePassage, durablePassage),
			want:     extractiveIntro + "\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [1].",
		},
		{
			name:     "the start and end a chunk cut from their sentences are not quoted",
			question: "JetStream disk consumer crashes",
			passages: passages("consumer that crashes sees. " + durablePassage + " Another JetStream consumer on disk that crashes"),
			want:     extractiveIntro + "\n\nJetStream keeps messages on disk, so a consumer that crashes resumes where it stopped [1].",
		},
		{
			name:     "images and HTML are dropped, links kept, a bracketed number escaped",
			question: "JetStream consumer",
			passages: passages("See ![diagram](d.png) the <b>JetStream</b> [consumer docs](https://nats.io/c) at line [2] here."),
			want:     extractiveIntro + "\n\nSee the JetStream [consumer docs](https://nats.io/c) at line \\[2] here [1].",
		},
		{
			name:     "tables and raw HTML lines are not quoted",
			question: "JetStream consumer",
			passages: passages("| JetStream | consumer |\n|---|---|\n\n<div>JetStream consumer</div>\n\nA JetStream consumer acks."),
			want:     extractiveIntro + "\n\nA JetStream consumer acks [1].",
		},
		{
			name:     "nothing relevant",
			question: "What is your favourite pasta recipe?",
			passages: passages(natsPassage, k8sPassage),
			want:     extractiveNothing,
		},
		{
			name:     "no passages",
			question: "Why JetStream?",
			want:     extractiveNothing,
		},
		{
			name:     "passages without words",
			question: "Why JetStream?",
			passages: passages("", " \n\t"),
			want:     extractiveNothing,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := Request{Question: tc.question, Passages: tc.passages}
			got, _, err := Complete(context.Background(), NewExtractive(tc.opts...), req)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("answer\n got %q\nwant %q", got, tc.want)
			}
			checkQuotes(t, got, tc.passages)
		})
	}
}

func TestExtractiveStreamsOneWordPerEmit(t *testing.T) {
	t.Parallel()
	req := Request{Question: "Why did you choose NATS JetStream?", Passages: passages(natsPassage, k8sPassage, durablePassage)}
	m := NewExtractive()
	pieces, u := streamAll(t, m, req)
	want, _, err := Complete(context.Background(), m, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pieces, ""); got != want {
		t.Fatalf("the pieces make %q, the answer is %q", got, want)
	}
	for i, p := range pieces {
		word := strings.TrimRight(p, " \n")
		last := i == len(pieces)-1
		if len(strings.Fields(word)) != 1 || strings.TrimSpace(word) != word || (word == p) != last {
			t.Errorf("piece %d %q is not one word followed by spaces or line breaks (none after the last)", i, p)
		}
	}
	if u.CompletionTokens != len(pieces) {
		t.Errorf("completion tokens %d, want the %d words emitted", u.CompletionTokens, len(pieces))
	}
	// The top five passages are read: all three here.
	read := len(strings.Fields(req.Question)) + len(strings.Fields(natsPassage+" "+k8sPassage+" "+durablePassage))
	if u.PromptTokens != read {
		t.Errorf("prompt tokens %d, want the %d words of the question and the passages read", u.PromptTokens, read)
	}
}

func TestExtractiveStopsAtEmitErrorAndCancelledContext(t *testing.T) {
	t.Parallel()
	req := Request{Question: "JetStream", Passages: passages(durablePassage)}
	stop := errors.New("client went away")
	calls := 0
	_, err := NewExtractive().Stream(context.Background(), req, func(string) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Errorf("after emit failed on call 2: err %v after %d calls, want the emit error after 2", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = NewExtractive().Stream(ctx, req, func(string) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("after cancel in the first emit: err %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestExtractiveIsDeterministicAndSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	m := NewExtractive()
	req := Request{Question: "Why did you choose NATS JetStream for the pipeline?", Passages: passages(natsPassage, k8sPassage, durablePassage)}
	want, _, err := Complete(context.Background(), m, req)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, _, err := Complete(context.Background(), m, req)
			if err == nil && got != want {
				err = fmt.Errorf("got %q, want %q", got, want)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestExtractiveName(t *testing.T) {
	t.Parallel()
	var zero Extractive
	if got := zero.Name(); got != "extractive" {
		t.Errorf("Name() = %q, want extractive", got)
	}
}

// FuzzExtractive checks that no question or passage makes the answerer
// panic, and that every answer streams word by word and quotes only the
// passages.
func FuzzExtractive(f *testing.F) {
	f.Add("Why JetStream?", natsPassage, durablePassage, 0)
	f.Add("e.g. code", "if x { y() }.\n\n```go\nfunc f() {}\n```", "", 3)
	f.Add("", "A. B. C. ... ?!", "\xff\xfe. \u2028 x", 1)
	f.Add("what", "", "", 0)
	f.Fuzz(func(t *testing.T, question, p1, p2 string, budget int) {
		m := NewExtractive(WithWordBudget(budget % 200))
		req := Request{Question: question, Passages: passages(p1, p2)}
		pieces, u := streamAll(t, m, req)
		answer := strings.Join(pieces, "")
		checkQuotes(t, answer, req.Passages)
		if u.CompletionTokens != len(pieces) || len(pieces) != len(strings.Fields(answer)) {
			t.Errorf("%d pieces, %d completion tokens, %d words in %q", len(pieces), u.CompletionTokens, len(strings.Fields(answer)), answer)
		}
	})
}

// benchSentences are varied sentences of a technical blog, a few of them
// on the benchmark's question.
var benchSentences = []string{
	"I moved our event pipeline to NATS JetStream last year, after two outages in a month.",
	"The old queue lost messages whenever a broker restarted during a deploy.",
	"Durable consumers remember their position, so a crashed worker resumes where it stopped.",
	"Lunch that day was a sad sandwich from the station, which is why I remember it.",
	"Most of the code is plain Go: a loop, a context, and a handful of interfaces.",
	"We ack each message only after the database write succeeds, never before.",
	"Kubernetes felt heavy for a team of three, so everything runs on two small VMs.",
	"Metrics come from Prometheus, and every alert links to the dashboard that explains it.",
	"Backpressure matters more than throughput when the downstream service is slow.",
	"I wrote the first version in a weekend and spent the next month deleting half of it.",
	"Tests run against the real embedded server, not a mock, which caught three bugs.",
	"Retries use exponential backoff with jitter, capped at thirty seconds.",
}

// BenchmarkExtractiveFirstWord measures the time to the first emitted word
// for ten passages of about 300 words, the reranker's usual output.
func BenchmarkExtractiveFirstWord(b *testing.B) {
	var ps []Passage
	for i := range 10 {
		var sb strings.Builder
		for j := i; countWords(sb.String()) < 300; j++ {
			sb.WriteString(benchSentences[j%len(benchSentences)] + " ")
		}
		ps = append(ps, Passage{Text: sb.String()})
	}
	req := Request{Question: "How do durable consumers work in your streaming pipeline?", Passages: ps}
	m := NewExtractive()
	stop := errors.New("first word")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Stream(context.Background(), req, func(string) error { return stop }); !errors.Is(err, stop) {
			b.Fatal(err)
		}
	}
}
