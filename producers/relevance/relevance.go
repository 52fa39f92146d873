// Package relevance reads relevance judgments from files, for teams that
// have labelled data, and publishes them as judgment/v1 messages on
// twin.feedback.relevance (source "import"), the same events as a user
// marking a cited source helpful or not: the monitor stores both and the
// reranker learns from both.
//
// Two layouts are read:
//
//   - BEIR's: a queries file of JSON lines {"_id": ..., "text": ...} and a
//     qrels file of tab-separated lines query-id, corpus-id, score, with or
//     without a header line;
//   - one JSON-lines file of {"query": ..., "document_id": ..., "grade": ...}.
//
// A BEIR corpus-id is a document id as is: `twin import` of that corpus
// keeps each line's _id as the document's warehouse id, so a judgment names
// the very document the warehouse, the vector store and the chat's sources
// call by that id. Bad lines are reported by number and skipped; they never
// stop a run.
package relevance

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/schemas"
)

// Limits of judgment/v1 that a line must keep to be published.
const (
	maxQueryChars      = 4096
	maxDocumentIDBytes = 512
)

// maxLineBytes bounds one line of any input file.
const maxLineBytes = 1 << 20

// BadLine is a line that was skipped, and why.
type BadLine struct {
	File   string
	Line   int
	Reason string
}

func (b BadLine) String() string { return fmt.Sprintf("%s:%d: %s", b.File, b.Line, b.Reason) }

// ImportID is the id (and Nats-Msg-Id) of an imported judgment: derived
// from the query and the document only, so an import run twice, or a file
// that names the same pair twice, is one judgment.
func ImportID(query, documentID string) string {
	h := sha256.New()
	for _, part := range []string{schemas.JudgmentImport, query, documentID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "judgment-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// newJudgment builds the judgment of one line, or says what is wrong with
// it.
func newJudgment(query, documentID string, grade int, at time.Time) (schemas.Judgment, error) {
	switch {
	case strings.TrimSpace(query) == "":
		return schemas.Judgment{}, errors.New("no query")
	case !utf8.ValidString(query):
		return schemas.Judgment{}, errors.New("the query is not UTF-8")
	case utf8.RuneCountInString(query) > maxQueryChars:
		return schemas.Judgment{}, fmt.Errorf("the query is over %d characters", maxQueryChars)
	case strings.TrimSpace(documentID) == "":
		return schemas.Judgment{}, errors.New("no document id")
	case len(documentID) > maxDocumentIDBytes || !utf8.ValidString(documentID):
		return schemas.Judgment{}, fmt.Errorf("the document id is not 1 to %d bytes of UTF-8", maxDocumentIDBytes)
	case grade < schemas.GradeNotRelevant || grade > schemas.MaxGrade:
		return schemas.Judgment{}, fmt.Errorf("grade %d: want %d to %d", grade, schemas.GradeNotRelevant, schemas.MaxGrade)
	}
	return schemas.Judgment{ID: ImportID(query, documentID), Query: query, DocumentID: documentID, Grade: grade,
		Source: schemas.JudgmentImport, CreatedAt: at.UTC()}, nil
}

// lines calls fn with each line of r and its number, from 1, without its
// line ending; blank lines are skipped. A line over maxLineBytes ends the
// read with an error naming it.
func lines(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// ReadQueries reads a BEIR queries file: one JSON object a line with "_id"
// (or "id") and "text". It returns the text of each query id; a line that
// is not such an object, or repeats an id, is bad (the first one counts).
func ReadQueries(r io.Reader, name string) (map[string]string, []BadLine, error) {
	queries := map[string]string{}
	var bad []BadLine
	err := lines(r, func(n int, line []byte) error {
		var q struct {
			BEIRID string `json:"_id"`
			ID     string `json:"id"`
			Text   string `json:"text"`
		}
		if err := json.Unmarshal(line, &q); err != nil {
			bad = append(bad, BadLine{name, n, "not a JSON object with string _id and text"})
			return nil
		}
		id := q.BEIRID
		if id == "" {
			id = q.ID
		}
		switch {
		case id == "":
			bad = append(bad, BadLine{name, n, "no _id"})
		case strings.TrimSpace(q.Text) == "":
			bad = append(bad, BadLine{name, n, "query " + strconv.Quote(id) + " has no text"})
		case queries[id] != "":
			bad = append(bad, BadLine{name, n, "query " + strconv.Quote(id) + " again; the first one counts"})
		default:
			queries[id] = q.Text
		}
		return nil
	})
	return queries, bad, err
}

// ReadQrels reads a BEIR qrels file (query-id, corpus-id, score, separated
// by tabs; a first line that names the columns is skipped) and calls emit
// with the judgment of each good line, its query's text taken from queries.
// An error from emit ends the read.
func ReadQrels(r io.Reader, name string, queries map[string]string, at time.Time, emit func(schemas.Judgment) error) ([]BadLine, error) {
	var bad []BadLine
	first := true
	err := lines(r, func(n int, line []byte) error {
		fields := strings.Split(string(line), "\t")
		isFirst := first
		first = false
		if len(fields) != 3 {
			bad = append(bad, BadLine{name, n, fmt.Sprintf("%d tab-separated fields, want 3: query-id, corpus-id, score", len(fields))})
			return nil
		}
		qid, doc, score := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1]), strings.TrimSpace(fields[2])
		grade, err := strconv.Atoi(score)
		if err != nil {
			if isFirst {
				return nil // the header: query-id, corpus-id, score
			}
			bad = append(bad, BadLine{name, n, "score " + strconv.Quote(score) + " is not a whole number"})
			return nil
		}
		query, ok := queries[qid]
		if !ok {
			bad = append(bad, BadLine{name, n, "query " + strconv.Quote(qid) + " is not in the queries"})
			return nil
		}
		j, err := newJudgment(query, doc, grade, at)
		if err != nil {
			bad = append(bad, BadLine{name, n, err.Error()})
			return nil
		}
		return emit(j)
	})
	return bad, err
}

// ReadJSONL reads one JSON object a line, {"query", "document_id",
// "grade"}, and calls emit with the judgment of each good line. An error
// from emit ends the read.
func ReadJSONL(r io.Reader, name string, at time.Time, emit func(schemas.Judgment) error) ([]BadLine, error) {
	var bad []BadLine
	err := lines(r, func(n int, line []byte) error {
		var l struct {
			Query      string          `json:"query"`
			DocumentID string          `json:"document_id"`
			Grade      json.RawMessage `json:"grade"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			bad = append(bad, BadLine{name, n, "not a JSON object with string query and document_id"})
			return nil
		}
		var grade int
		if len(l.Grade) == 0 {
			bad = append(bad, BadLine{name, n, "no grade"})
			return nil
		}
		if err := json.Unmarshal(l.Grade, &grade); err != nil {
			bad = append(bad, BadLine{name, n, "grade " + string(l.Grade) + " is not a whole number"})
			return nil
		}
		j, err := newJudgment(l.Query, l.DocumentID, grade, at)
		if err != nil {
			bad = append(bad, BadLine{name, n, err.Error()})
			return nil
		}
		return emit(j)
	})
	return bad, err
}
