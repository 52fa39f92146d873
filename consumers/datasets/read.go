package datasets

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Judged is one line of a relevance set, as ReadRelevance returns it.
type Judged struct {
	Query      string `json:"query"`
	DocumentID string `json:"document_id"`
	Grade      int    `json:"grade"`
}

// ReadRelevance reads the lines of a relevance set's train.jsonl or
// test.jsonl, so that a trainer learns from exactly the split the
// dataset's record describes. A line that is not a JSON object with a
// query, a document id and a grade from 0 to 3 is an error naming its
// number; blank lines are skipped.
func ReadRelevance(r io.Reader) ([]Judged, error) {
	var out []Judged
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var j Judged
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalid, n, err)
		}
		if strings.TrimSpace(j.Query) == "" || j.DocumentID == "" || j.Grade < 0 || j.Grade > 3 {
			return nil, fmt.Errorf("%w: line %d: want a query, a document_id and a grade from 0 to 3", ErrInvalid, n)
		}
		out = append(out, j)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%w: a line over 1 MiB", ErrInvalid)
	} else if err != nil {
		return nil, fmt.Errorf("read relevance set: %w", err)
	}
	return out, nil
}
