package bench

import (
	"compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJoinTexts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 1000) // 5 KB
	for _, tc := range []struct {
		name, in string
		want     string // the joined text; "" when an error is wanted
		err      string
	}{
		{"two posts", `{"text":"` + long + `","title":"a"}` + "\n\n" + `{"_id":"2","text":"` + long + `"}`, long + "\n\n" + long + "\n\n", ""},
		{"not JSON", `{"text":"` + long + `"}` + "\nplain words\n", "", "line 2: want a JSON object"},
		{"too little", `{"text":"short"}`, "", "too little text"},
		{"no text field", `{"body":"` + long + long + `"}`, "", "too little text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := joinTexts(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("joinTexts = %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

func TestBenchDocsCutRealTextAtWords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "posts.jsonl.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	for i := range 40 {
		if _, err := zw.Write([]byte(`{"text":"Ünïcode wörds, post ` + strings.Repeat("é", i) + ` ` + strings.Repeat("lorem ipsum dolor ", 30) + `"}` + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	text, err := ReadText(path)
	if err != nil {
		t.Fatal(err)
	}
	src := Docs{Text: text}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		d := src.doc(rng, "x", i)
		if n := len(d.Content); n > docSize || n < docSize-utf8.UTFMax-len("lorem ipsum dolor ") {
			t.Fatalf("document %d has %d bytes, want about %d", i, n, docSize)
		}
		if !utf8.ValidString(d.Content) || !strings.Contains(text, d.Content) {
			t.Fatalf("document %d is not a window of valid text: %q", i, d.Content[:40])
		}
	}
}

func TestWindowStartsAtAWordAndEndsAtACharacter(t *testing.T) {
	t.Parallel()
	text := "ab cd" + strings.Repeat("é", docSize) // 2-byte characters
	for _, tc := range []struct {
		from      int
		wantStart string
	}{
		{0, "cd"}, // after the first space: a random from is mostly inside a word
		{1, "cd"},
		{3, "cd"},
	} {
		w := window(text, tc.from)
		if !strings.HasPrefix(w, tc.wantStart) || !utf8.ValidString(w) || len(w) > docSize || len(w) < docSize-1 {
			t.Errorf("window(%d) = %q... (%d bytes), want it to start with %q and end on a character", tc.from, w[:4], len(w), tc.wantStart)
		}
	}
}

func FuzzJoinTexts(f *testing.F) {
	f.Add([]byte(`{"text":"a"}` + "\n" + `{"text":"b"}`))
	f.Add([]byte("not json\n"))
	f.Add([]byte(`{"text":"\ud800 bad surrogate"}`))
	f.Add([]byte("{\"text\":\"\xff\xfe\"}\n\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		text, err := joinTexts(strings.NewReader(string(in)))
		if err != nil {
			return
		}
		if !utf8.ValidString(text) || len(text) < 2*docSize {
			t.Fatalf("joined %d bytes, valid UTF-8 %v", len(text), utf8.ValidString(text))
		}
		rng := rand.New(rand.NewPCG(uint64(len(in)), 0))
		for range 8 {
			if w := window(text, rng.IntN(len(text)-docSize)); !utf8.ValidString(w) || len(w) > docSize {
				t.Fatalf("a window of %d bytes, valid UTF-8 %v", len(w), utf8.ValidString(w))
			}
		}
	})
}
