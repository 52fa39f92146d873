package gateway

import (
	"fmt"
	"testing"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

func TestUnknownAuthorMessageNamesTheAuthorsThereAre(t *testing.T) {
	t.Parallel()
	named := func(n int) []warehouse.Author {
		out := make([]warehouse.Author, n)
		for i := range out {
			out[i] = warehouse.Author{Name: fmt.Sprintf("Author %d", i+1)}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		authors []warehouse.Author
		want    string
	}{
		{"none", nil, `no author named "Simon W"; the warehouse has no authors yet (import or crawl documents with an author)`},
		{"one", named(1), `no author named "Simon W"; the only author is Author 1`},
		{"two", named(2), `no author named "Simon W"; the authors are Author 1, Author 2`},
		{"more than ten", named(12), `no author named "Simon W"; the authors are Author 1, Author 2, Author 3, Author 4, Author 5, ` +
			`Author 6, Author 7, Author 8, Author 9, Author 10 and 2 more (GET /v1/authors lists them)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := unknownAuthorMessage("Simon W", tc.authors); got != tc.want {
				t.Errorf("message\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
