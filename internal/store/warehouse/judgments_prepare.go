package warehouse

import (
	"fmt"
	"time"
)

// maxJudgmentGrade is the highest grade a judgment may carry: BEIR's scale
// (schemas.MaxGrade; the warehouse does not import the message package).
const maxJudgmentGrade = 3

var (
	_ JudgmentStore = (*SQLiteStore)(nil)
	_ JudgmentStore = (*MongoStore)(nil)
)

// InvalidJudgmentError is PutJudgments' error when a judgment of the batch
// is invalid: it matches ErrInvalid, and Index says which judgment it is,
// so that a batch consumer can dead-letter that one and store the rest.
type InvalidJudgmentError struct {
	Index int
	Err   error
}

func (e *InvalidJudgmentError) Error() string {
	return fmt.Sprintf("judgment %d of the batch: %v", e.Index, e.Err)
}
func (e *InvalidJudgmentError) Unwrap() error { return e.Err }

// ValidateJudgment reports, as an error matching ErrInvalid, what makes j a
// judgment the store refuses.
func ValidateJudgment(j JudgmentRecord) error {
	switch {
	case j.ID == "":
		return fmt.Errorf("%w: judgment without an id", ErrInvalid)
	case j.Query == "":
		return fmt.Errorf("%w: judgment %s without a query", ErrInvalid, j.ID)
	case j.DocumentID == "":
		return fmt.Errorf("%w: judgment %s without a document", ErrInvalid, j.ID)
	case j.Grade < 0 || j.Grade > maxJudgmentGrade:
		return fmt.Errorf("%w: judgment %s: grade %d, want 0 to %d", ErrInvalid, j.ID, j.Grade, maxJudgmentGrade)
	}
	return nil
}

// prepareJudgments validates a batch and fills what the store computes: the
// time (the store's when the judgment has none), and no Seq (the store hands
// it out). A judgment whose id came earlier in the batch is dropped: the
// first copy is the one stored, as it would be in two batches.
func prepareJudgments(js []JudgmentRecord, now time.Time) ([]JudgmentRecord, error) {
	out := make([]JudgmentRecord, 0, len(js))
	seen := make(map[string]bool, len(js))
	for i, j := range js {
		if err := ValidateJudgment(j); err != nil {
			return nil, &InvalidJudgmentError{Index: i, Err: err}
		}
		if seen[j.ID] {
			continue
		}
		seen[j.ID] = true
		j.CreatedAt = storeTime(j.CreatedAt)
		if j.CreatedAt.IsZero() {
			j.CreatedAt = storeTime(now)
		}
		j.Seq = 0
		out = append(out, j)
	}
	return out, nil
}
