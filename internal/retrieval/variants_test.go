package retrieval

import (
	"reflect"
	"testing"
)

func TestVariants(t *testing.T) {
	t.Parallel()
	got := Variants("What does Simon Willison think about indexing SQLite tables?", "Simon Willison", 3)
	want := []string{
		"What does Simon Willison think about indexing SQLite tables?",
		"indexing sqlite tables",
		"indexing index indexs sqlite sqlites tables table",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := Variants("What is jq?", "", 1); len(got) != 1 {
		t.Errorf("n=1 gave %q", got)
	}
	// A question of question words only has no keyword variant.
	if got := Variants("What do you think?", "", 3); len(got) != 1 {
		t.Errorf("got %q", got)
	}
}
