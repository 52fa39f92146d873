package evaluate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Query is a judged query.
type Query struct{ ID, Text string }

// Judgments are graded relevance: query id → document id → grade.
type Judgments map[string]map[string]int

// ReadQrels reads a file of BEIR judgments: a TSV of query id, corpus id
// and graded relevance, with a header.
func ReadQrels(path string) (Judgments, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	j, err := ParseQrels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// ParseQrels parses BEIR judgments (see ReadQrels).
func ParseQrels(r io.Reader) (Judgments, error) {
	out := Judgments{}
	sc := bufio.NewScanner(r)
	for line := 0; sc.Scan(); line++ {
		parts := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		if len(parts) != 3 {
			continue
		}
		score, err := strconv.Atoi(parts[2])
		if err != nil {
			if line == 0 {
				continue // the header
			}
			return nil, fmt.Errorf("line %d: score %q is not a number", line+1, parts[2])
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]int{}
		}
		out[parts[0]][parts[1]] = score
	}
	return out, sc.Err()
}

// ReadQueries reads the BEIR queries (JSON lines of _id and text) that
// have judgments.
func ReadQueries(path string, judged Judgments) ([]Query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Query
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if json.Unmarshal(sc.Bytes(), &q) != nil || q.ID == "" {
			continue
		}
		if _, ok := judged[q.ID]; ok {
			out = append(out, Query{ID: q.ID, Text: q.Text})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no query has a judgment", path)
	}
	return out, sc.Err()
}
