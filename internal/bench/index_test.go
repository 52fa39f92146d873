package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

func TestCheckIndexFindsWhatIsLostDuplicatedOrStale(t *testing.T) {
	t.Parallel()
	// chunk is a point of document id at rev, its text carrying marker.
	type chunk struct {
		id     string
		index  int
		rev    int64
		marker string
	}
	// The warehouse: a at revision 2 (version 2), b at revision 1, c deleted.
	live := map[string]warehouse.Document{
		"a": {ID: "a", Revision: 2, Content: "about a-v2 and more"},
		"b": {ID: "b", Revision: 1, Content: "no marker here"},
	}
	deleted := []string{"c"}
	whole := []chunk{{"a", 0, 2, "a-v2"}, {"a", 1, 2, "a-v2"}, {"b", 0, 1, ""}}
	for _, tc := range []struct {
		name                    string
		chunks                  []chunk
		lost, duplicated, stale int
		problem                 string // in the first finding; "" for none
	}{
		{"all there", whole, 0, 0, 0, ""},
		{"a chunk missing", []chunk{{"a", 1, 2, "a-v2"}, {"b", 0, 1, ""}}, 1, 0, 0, "a at revision 2: 1 chunks lost"},
		{"a document missing", []chunk{{"a", 0, 2, "a-v2"}, {"a", 1, 2, "a-v2"}}, 1, 0, 0, "b at revision 1: 1 chunks lost"},
		{"a chunk twice", append(whole, chunk{"a", 1, 2, "a-v2 again"}), 0, 1, 0, "1 duplicated"},
		{"an older revision left", append(whole, chunk{"a", 2, 1, "a-v1"}), 0, 0, 1, "1 stale"},
		{"another version's text", []chunk{{"a", 0, 2, "a-v2"}, {"a", 1, 2, "a-v1"}, {"b", 0, 1, ""}}, 0, 0, 1, "0 chunks lost, 0 duplicated, 1 stale"},
		{"a deleted document left", append(whole, chunk{"c", 0, 1, ""}), 0, 0, 1, "of the 1 deleted documents"},
		{"a chunk of no document", append(whole, chunk{"z", 0, 1, ""}), 0, 0, 1, "of no document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			vs, err := embedded.Open(t.TempDir(), 4)
			if err != nil {
				t.Fatal(err)
			}
			defer vs.Close()
			var points []vectors.Point
			for i, c := range tc.chunks {
				points = append(points, vectors.Point{
					ID:    fmt.Sprintf("00000000-0000-0000-0000-%012d", i),
					Dense: []float32{1, float32(i), 0, 0},
					Payload: vectors.Payload{DocumentID: c.id, ChunkIndex: c.index, Text: "text of " + c.marker,
						Extra: map[string]any{"revision": float64(c.rev)}},
				})
			}
			if err := vs.Upsert(ctx, points); err != nil {
				t.Fatal(err)
			}
			var problems []string
			found, err := CheckIndex(ctx, vs, live, deleted, func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf(format, args...))
			})
			if err != nil {
				t.Fatal(err)
			}
			if found.Lost != tc.lost || found.Duplicated != tc.duplicated || found.Stale != tc.stale {
				t.Errorf("lost %d, duplicated %d, stale %d; want %d, %d, %d (%q)", found.Lost, found.Duplicated, found.Stale, tc.lost, tc.duplicated, tc.stale, problems)
			}
			switch {
			case tc.problem == "" && len(problems) > 0:
				t.Errorf("findings %q, want none", problems)
			case tc.problem != "" && (len(problems) == 0 || !strings.Contains(problems[0], tc.problem)):
				t.Errorf("findings %q, want the first to say %q", problems, tc.problem)
			}
		})
	}
}
