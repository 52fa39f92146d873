package llm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// remoteRequest is the request both remote clients' tests send: a system
// and a user message, at most 64 tokens, temperature 0.2.
func remoteRequest() Request {
	temp := 0.2
	return Request{
		Messages:  []Message{{Role: RoleSystem, Content: "You are the author."}, {Role: RoleUser, Content: "Hi?"}},
		MaxTokens: 64, Temperature: &temp,
	}
}

// streamPieces streams req through m and returns the pieces emitted and
// the usage; firstEmit is closed at the first piece.
func streamPieces(t *testing.T, m Model, req Request, firstEmit chan struct{}) ([]string, Usage) {
	t.Helper()
	var pieces []string
	var once sync.Once
	u, err := m.Stream(context.Background(), req, func(s string) error {
		pieces = append(pieces, s)
		once.Do(func() { close(firstEmit) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pieces, u
}

func TestPromptMessagesFallBackToQuestionAndPassages(t *testing.T) {
	t.Parallel()
	given := []Message{{Role: RoleSystem, Content: "s"}, {Role: RoleUser, Content: "u"}}
	for _, tc := range []struct {
		name      string
		req       Request
		wantRoles []string
		wantIn    []string // texts the last-but-one message must hold
		wantErr   bool
	}{
		{"the messages win", Request{Messages: given, Question: "ignored"}, []string{RoleSystem, RoleUser}, nil, false},
		{"a question alone", Request{Question: "Why?"}, []string{RoleUser}, nil, false},
		{"a question and passages", Request{Question: "Why?", Passages: []Passage{{Title: "On queues", Text: "Queues help."}, {Text: "Backoff."}}},
			[]string{RoleSystem, RoleUser}, []string{"[1] On queues: Queues help.", "[2] Backoff."}, false},
		{"nothing to ask", Request{Question: "  ", Passages: []Passage{{Text: "x"}}}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msgs, err := promptMessages(tc.req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			var roles []string
			for _, m := range msgs {
				roles = append(roles, m.Role)
			}
			if !slices.Equal(roles, tc.wantRoles) {
				t.Fatalf("roles %q, want %q", roles, tc.wantRoles)
			}
			if len(msgs) > 0 && tc.req.Question != "" && len(tc.req.Messages) == 0 && msgs[len(msgs)-1].Content != tc.req.Question {
				t.Errorf("last message %q, want the question", msgs[len(msgs)-1].Content)
			}
			for _, want := range tc.wantIn {
				if !strings.Contains(msgs[0].Content, want) {
					t.Errorf("system message %q does not hold %q", msgs[0].Content, want)
				}
			}
		})
	}
}

func TestEstimateTokensIsAboutFourBytesEach(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{"": 0, "a": 1, "abcd": 1, "abcde": 2, strings.Repeat("x", 400): 100} {
		if got := estimateTokens(text); got != want {
			t.Errorf("estimateTokens(%d bytes) = %d, want %d", len(text), got, want)
		}
	}
}

// checkCancelStopsTheStream cancels m's stream at its first piece, which
// must be "Hel": Stream must return context.Canceled with nothing emitted
// after it, and the server must see its request cancelled (it sends true
// on serverSawCancel, false when it gave up waiting).
func checkCancelStopsTheStream(t *testing.T, m Model, serverSawCancel <-chan bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pieces []string
	_, err := m.Stream(ctx, Request{Question: "q"}, func(s string) error {
		pieces = append(pieces, s)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if !slices.Equal(pieces, []string{"Hel"}) {
		t.Errorf("emitted %q, want only the piece before the cancel", pieces)
	}
	if !<-serverSawCancel {
		t.Error("the server's request was never cancelled: the connection stayed open")
	}
}

// checkEmitErrorStopsTheStream fails emit at m's first piece: Stream must
// return that very error, and emit nothing more.
func checkEmitErrorStopsTheStream(t *testing.T, m Model) {
	t.Helper()
	gone := errors.New("client went away")
	calls := 0
	_, err := m.Stream(context.Background(), Request{Question: "q"}, func(string) error {
		calls++
		return gone
	})
	if err != gone || calls != 1 {
		t.Errorf("err %v after %d emits, want the emit's own error after 1", err, calls)
	}
}
