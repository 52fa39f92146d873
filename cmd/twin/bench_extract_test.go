package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchExtractMeasuresPagesOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	article := `<html><head><title>Floods</title></head><body><article><p>` +
		strings.Repeat("The river rose for three days before anyone moved the boats to higher ground. ", 8) +
		`</p></article></body></html>`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(article))
	zw.Close()
	for name, body := range map[string][]byte{
		"a.html":         []byte(article),
		"sub/b.html.gz":  gz.Bytes(),
		"sub/empty.htm":  []byte("<html><body><nav><a href='/'>Home</a></nav></body></html>"),
		"notes.txt":      []byte("not a page"),
		"sub/style.css":  []byte("p { color: red }"),
		"sub/c.xhtml.gz": gz.Bytes(),
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runTwin("bench", "extract", dir, "--rounds", "3", "--workers", "2", "--json")
	if code != 0 {
		t.Fatalf("twin bench extract = %d\n%s%s", code, out, errOut)
	}
	var res struct {
		Pages, Rounds, Workers int
		NoContent              int     `json:"no_content"`
		Failed                 int     `json:"failed"`
		PagesPerSecond         float64 `json:"pages_per_second"`
		CPUMsPerPage           float64 `json:"cpu_ms_per_page"`
		P50Ms                  float64 `json:"p50_ms"`
		P99Ms                  float64 `json:"p99_ms"`
		Slowest                string
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Pages != 4 || res.Rounds != 3 || res.Workers != 2 || res.NoContent != 1 || res.Failed != 0 {
		t.Errorf("counts: %+v, want 4 pages (the .txt and .css left out), 3 rounds, 2 workers, 1 without content", res)
	}
	if res.PagesPerSecond <= 0 || res.CPUMsPerPage <= 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms || !strings.HasPrefix(res.Slowest, dir) {
		t.Errorf("figures: %+v", res)
	}

	// A file named on the command line is a page whatever its name; in a
	// directory only the names of pages count.
	code, out, errOut = runTwin("bench", "extract", filepath.Join(dir, "notes.txt"), "--json")
	if code != 0 || !strings.Contains(out, `"pages": 1,`) {
		t.Errorf("a file named = %d\n%s%s, want 1 page", code, out, errOut)
	}
	empty := t.TempDir()
	code, out, errOut = runTwin("bench", "extract", empty)
	if code != 1 || !strings.Contains(errOut, "no HTML pages") {
		t.Errorf("a directory without pages = %d\n%s%s, want 1 and no HTML pages", code, out, errOut)
	}
	code, _, errOut = runTwin("bench", "extract")
	if code != 2 || !strings.Contains(errOut, "missing the HTML files or directories") {
		t.Errorf("no path = %d %s, want 2", code, errOut)
	}
}
