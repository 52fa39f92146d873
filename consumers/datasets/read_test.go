package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadRelevanceReadsWhatBuildWrote(t *testing.T) {
	t.Parallel()
	js := memJudgments{
		{ID: "a", Query: "what is a queue?", DocumentID: "d1", Grade: 2, Seq: 1},
		{ID: "b", Query: "what is a queue?", DocumentID: "d2", Grade: 0, Seq: 2},
		{ID: "c", Query: "how do retries work?", DocumentID: "d3", Grade: 1, Seq: 3},
	}
	dir := t.TempDir()
	rec, err := newBuilder(t, Config{Judgments: js}).Build(t.Context(), Request{Kind: KindRelevance, Dir: dir, Seed: 1, TestShare: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	var got []Judged
	for _, name := range []string{TrainFile, TestFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		part, err := ReadRelevance(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	if len(got) != rec.Kept || len(got) != 3 {
		t.Fatalf("read %d judgments, the record kept %d: %v", len(got), rec.Kept, got)
	}
}

func TestReadRelevanceNamesTheBadLine(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, line string }{
		{"not JSON", "{\"query\":\"q\",\"document_id\":\"d\",\"grade\":1}\n{oops", "line 2"},
		{"no query", `{"document_id":"d","grade":1}`, "line 1"},
		{"grade too high", "\n" + `{"query":"q","document_id":"d","grade":9}`, "line 2"},
		{"line too long", `{"query":"` + strings.Repeat("q", 1<<20) + `"}`, "1 MiB"},
	}
	for _, c := range cases {
		_, err := ReadRelevance(strings.NewReader(c.in))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.line) {
			t.Errorf("%s: %v, want ErrInvalid naming %s", c.name, err, c.line)
		}
	}
	got, err := ReadRelevance(strings.NewReader("\n" + `{"query":"q","document_id":"d","grade":3,"method":"judgment"}` + "\n\n"))
	if err != nil || !reflect.DeepEqual(got, []Judged{{"q", "d", 3}}) {
		t.Errorf("a good line: %v, %v", got, err)
	}
}

func FuzzReadRelevance(f *testing.F) {
	f.Add(`{"query":"q","document_id":"d","grade":1}`)
	f.Add("\n\n{\"query\":\" \",\"document_id\":\"d\",\"grade\":0}")
	f.Add(`{"query":"q","document_id":"d","grade":-1}` + "\n" + `[1,2]`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadRelevance(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ReadRelevance(%q): %v, want ErrInvalid", in, err)
			}
			return
		}
		for _, j := range got {
			if strings.TrimSpace(j.Query) == "" || j.DocumentID == "" || j.Grade < 0 || j.Grade > 3 {
				t.Fatalf("ReadRelevance(%q) returned %+v", in, j)
			}
		}
	})
}
