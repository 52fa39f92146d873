package rag

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

func TestTokenStreamGroupsBurstsAndStreamsSlowWords(t *testing.T) {
	t.Parallel()
	js := streamstest.Start(t)
	f := fixture{js: js}
	pub := streams.NewPublisher(js)
	words := strings.Fields("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " +
		"sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five " +
		"twenty-six twenty-seven twenty-eight twenty-nine thirty thirty-one thirty-two thirty-three")

	// A burst: 1, 2, 4, 8, 16 words, then the rest.
	burst := newTokenStream(context.Background(), pub, "burst", "t")
	for _, w := range words {
		if err := burst.write(w + " "); err != nil {
			t.Fatal(err)
		}
	}
	if err := burst.close(); err != nil {
		t.Fatal(err)
	}
	if err := awaitAll(context.Background(), burst.futures); err != nil {
		t.Fatal(err)
	}
	tokens, _ := f.reply(t, "burst")
	var sizes []int
	var text strings.Builder
	for _, tok := range tokens {
		sizes = append(sizes, len(strings.Fields(tok.Text)))
		text.WriteString(tok.Text)
	}
	if got, want := sizes, []int{1, 2, 4, 8, 16, 2}; !slices.Equal(got, want) {
		t.Errorf("burst message sizes %v, want %v", got, want)
	}
	if text.String() != strings.Join(words, " ")+" " || burst.text.String() != text.String() {
		t.Errorf("burst text %q", text.String())
	}

	// A slow model: every word is published on its own, within flushDelay.
	slow := newTokenStream(context.Background(), pub, "slow", "t")
	for _, w := range words[:4] {
		if err := slow.write(w + " "); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * flushDelay) // the model's pace, not a wait for the code
	}
	if err := slow.close(); err != nil {
		t.Fatal(err)
	}
	if err := awaitAll(context.Background(), slow.futures); err != nil {
		t.Fatal(err)
	}
	if tokens, _ := f.reply(t, "slow"); len(tokens) != 4 {
		t.Errorf("slow words came in %d messages, want 4: %+v", len(tokens), tokens)
	}
}
