package featurizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

// realTexts returns up to n posts of the simonw-til corpus (Apache-2.0,
// Simon Willison, til.simonwillison.net), or skips the test when it is
// not there.
func realTexts(t testing.TB, n int) []string {
	t.Helper()
	f, err := os.Open("../../../shared/data/simonw-til/til.jsonl.gz")
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
