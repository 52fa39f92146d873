// Package tiltest reads the simonw-til corpus (Apache-2.0, Simon
// Willison, til.simonwillison.net) from the shared data folder for tests
// that want real posts.
package tiltest

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"

	"github.com/twin-llm/twin/internal/evaldata"
)

// Texts returns the text of up to n posts, or skips the test when the
// corpus is not there.
func Texts(t testing.TB, n int) []string {
	t.Helper()
	f, err := os.Open(evaldata.Path("simonw-til/til.jsonl.gz"))
	if err != nil {
		t.Skipf("no simonw-til corpus: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() && len(texts) < n {
		var post struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &post); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, post.Text)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return texts
}
