package relevance

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/schemas"
)

var at = time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)

func collectQrels(t *testing.T, queries map[string]string, in string) ([]schemas.Judgment, []BadLine) {
	t.Helper()
	var got []schemas.Judgment
	bad, err := ReadQrels(strings.NewReader(in), "qrels.tsv", queries, at, func(j schemas.Judgment) error {
		got = append(got, j)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadQrels: %v", err)
	}
	return got, bad
}

func lineNumbers(bad []BadLine) []int {
	out := []int{}
	for _, b := range bad {
		out = append(out, b.Line)
	}
	return out
}

func TestReadQueriesReportsBadLinesByNumber(t *testing.T) {
	t.Parallel()
	in := strings.Join([]string{
		`{"_id":"1","text":"what is a queue?"}`,
		`{"id":"2","text":"how do streams work?"}`,
		``,
		`not json`,
		`{"_id":"3"}`,
		`{"text":"no id"}`,
		`{"_id":"1","text":"the same id again"}`,
		`{"_id":4,"text":"a number"}`,
		`{"_id":"5","text":"ok","metadata":{"x":1}}`,
	}, "\n")
	queries, bad, err := ReadQueries(strings.NewReader(in), "queries.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"1": "what is a queue?", "2": "how do streams work?", "5": "ok"}
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("queries = %v, want %v", queries, want)
	}
	if got := lineNumbers(bad); !reflect.DeepEqual(got, []int{4, 5, 6, 7, 8}) {
		t.Errorf("bad lines %v (%v), want 4 5 6 7 8", got, bad)
	}
	if bad[0].File != "queries.jsonl" || !strings.Contains(bad[0].String(), "queries.jsonl:4:") {
		t.Errorf("a bad line reads %q, want it to name the file and line", bad[0])
	}
}

func TestReadQrels(t *testing.T) {
	t.Parallel()
	queries := map[string]string{"1": "what is a queue?", "2": "how do streams work?"}
	tests := []struct {
		name    string
		in      string
		want    []schemas.Judgment
		badAt   []int
		reasons []string
	}{
		{"with a header", "query-id\tcorpus-id\tscore\n1\t31715818\t1\n2\t13734012\t0\n",
			[]schemas.Judgment{judgmentOf("what is a queue?", "31715818", 1), judgmentOf("how do streams work?", "13734012", 0)}, []int{}, nil},
		{"without a header, CRLF line ends", "1\t31715818\t2\r\n2\tdoc-b\t3\r\n",
			[]schemas.Judgment{judgmentOf("what is a queue?", "31715818", 2), judgmentOf("how do streams work?", "doc-b", 3)}, []int{}, nil},
		{"bad lines are skipped and numbered", "query-id\tcorpus-id\tscore\n1\td1\t1\n9\td2\t1\n1\td3\thigh\n1 d4 1\n1\td5\t4\n1\td6\t-1\n1\t\t1\n\n2\td7\t1\n",
			[]schemas.Judgment{judgmentOf("what is a queue?", "d1", 1), judgmentOf("how do streams work?", "d7", 1)},
			[]int{3, 4, 5, 6, 7, 8}, []string{"not in the queries", "not a whole number", "want 3", "grade 4", "grade -1", "no document id"}},
		{"a first line whose score is not a number is taken for a header", "1\td1\tscore\n",
			nil, []int{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, bad := collectQrels(t, queries, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("judgments =\n%+v\nwant\n%+v", got, tt.want)
			}
			if lines := lineNumbers(bad); !reflect.DeepEqual(lines, tt.badAt) {
				t.Errorf("bad lines %v (%v), want %v", lines, bad, tt.badAt)
			}
			for i, r := range tt.reasons {
				if i < len(bad) && !strings.Contains(bad[i].Reason, r) {
					t.Errorf("bad line %d: reason %q, want it to say %q", bad[i].Line, bad[i].Reason, r)
				}
			}
		})
	}
}

func judgmentOf(query, doc string, grade int) schemas.Judgment {
	return schemas.Judgment{ID: ImportID(query, doc), Query: query, DocumentID: doc, Grade: grade, Source: schemas.JudgmentImport, CreatedAt: at}
}

func TestReadJSONL(t *testing.T) {
	t.Parallel()
	in := strings.Join([]string{
		`{"query":"what is a queue?","document_id":"d1","grade":1}`,
		`{"query":"what is a queue?","document_id":"d2","grade":0,"note":"extra fields are fine"}`,
		`{"query":"","document_id":"d3","grade":1}`,
		`{"query":"q","document_id":"d4"}`,
		`{"query":"q","document_id":"d5","grade":1.5}`,
		`{"query":"q","document_id":"d6","grade":"1"}`,
		`{"query":"q","document_id":"d7","grade":7}`,
		`[1,2,3]`,
		`{"query":"q","document_id":"` + strings.Repeat("x", 513) + `","grade":1}`,
		`{"query":"` + strings.Repeat("é", 4097) + `","document_id":"d9","grade":1}`,
	}, "\n")
	var got []schemas.Judgment
	bad, err := ReadJSONL(strings.NewReader(in), "j.jsonl", at, func(j schemas.Judgment) error {
		got = append(got, j)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Judgment{judgmentOf("what is a queue?", "d1", 1), judgmentOf("what is a queue?", "d2", 0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("judgments = %+v, want %+v", got, want)
	}
	if lines := lineNumbers(bad); !reflect.DeepEqual(lines, []int{3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("bad lines %v (%v), want 3 to 10", lines, bad)
	}
}

func TestEmitErrorStopsTheRead(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	n := 0
	_, err := ReadJSONL(strings.NewReader("{\"query\":\"q\",\"document_id\":\"a\",\"grade\":1}\n{\"query\":\"q\",\"document_id\":\"b\",\"grade\":1}\n"), "j", at,
		func(schemas.Judgment) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ReadJSONL after emit failed: %v after %d judgments, want stop after 1", err, n)
	}
}

func TestImportIDDependsOnQueryAndDocumentOnly(t *testing.T) {
	t.Parallel()
	a := ImportID("q", "d")
	for _, other := range []string{ImportID("q", "e"), ImportID("p", "d"), ImportID("q\x00", "d"), ImportID("q", "\x00d")} {
		if other == a {
			t.Errorf("two pairs share the id %s", a)
		}
	}
	if ImportID("q", "d") != a {
		t.Error("ImportID is not deterministic")
	}
	j1, _ := newJudgment("q", "d", 1, at)
	j2, _ := newJudgment("q", "d", 2, at.Add(time.Hour))
	if j1.ID != j2.ID {
		t.Error("a second import of the same pair (another grade, another time) got another id")
	}
}

// FuzzReadQrels: whatever the files hold, the readers never panic, and
// every judgment they emit is one judgment/v1 accepts and the monitor
// stores (grade on the scale, fields not blank).
func FuzzReadQrels(f *testing.F) {
	f.Add(`{"_id":"1","text":"q one"}`+"\n", "query-id\tcorpus-id\tscore\n1\td1\t1\n")
	f.Add(`{"_id":"1","text":"q"}`, "1\td\t3\r\n1\td\t-0\n")
	f.Add("", "\t\t\n")
	f.Add(`{"_id":"\u0000","text":"\ud800"}`, "\x00\t\xff\t1")
	f.Fuzz(func(t *testing.T, queriesIn, qrelsIn string) {
		queries, _, err := ReadQueries(strings.NewReader(queriesIn), "q")
		if err != nil {
			return // a line over the limit
		}
		_, _ = ReadQrels(strings.NewReader(qrelsIn), "r", queries, at, func(j schemas.Judgment) error {
			checkEmitted(t, j)
			return nil
		})
	})
}

// FuzzReadJSONL is FuzzReadQrels for the one-file layout.
func FuzzReadJSONL(f *testing.F) {
	f.Add(`{"query":"q","document_id":"d","grade":1}`)
	f.Add(`{"query":" ","document_id":"d","grade":1e2}` + "\n" + `{"grade":null}`)
	f.Add(`{"query":"\u0000","document_id":"\ud800","grade":-0}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ReadJSONL(strings.NewReader(in), "j", at, func(j schemas.Judgment) error {
			checkEmitted(t, j)
			return nil
		})
	})
}

func checkEmitted(t *testing.T, j schemas.Judgment) {
	t.Helper()
	if j.Grade < 0 || j.Grade > schemas.MaxGrade || strings.TrimSpace(j.Query) == "" || strings.TrimSpace(j.DocumentID) == "" ||
		!utf8.ValidString(j.Query) || j.ID != ImportID(j.Query, j.DocumentID) {
		t.Fatalf("emitted an unusable judgment %+v", j)
	}
	data, err := schemas.Encode(j)
	if err == nil {
		err = schemas.Decode(data, &schemas.Judgment{})
	}
	if err != nil {
		t.Fatalf("emitted a judgment judgment/v1 refuses: %+v: %v", j, err)
	}
}
