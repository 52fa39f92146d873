package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// JudgmentsConsumer is the durable consumer of relevance judgments
// (twin.feedback.relevance), to run JudgmentsHandler under with RunBatch.
const JudgmentsConsumer = streams.ConsumerMonitorJudgments

// JudgmentStore is what the monitor needs to keep relevance judgments
// (warehouse.SQLiteStore and warehouse.MongoStore implement it).
type JudgmentStore interface {
	PutJudgments(ctx context.Context, js []warehouse.JudgmentRecord) (added int, err error)
}

// JudgmentsHandler is the batch handler of relevance judgments: each batch
// is stored with one write per judgment source (a user's, an import's), so
// that the store's count of new ones says what to add to each source's
// counter. An import publishes thousands at once, and one write per message
// would make it crawl. It is nil when the monitor has no JudgmentStore.
func (m *Monitor) JudgmentsHandler() streams.BatchHandler { return m.judgments }

// storeJudgments writes the decoded judgments of a batch, msgs[i] with
// bodies[i]. A judgment the store would refuse is dead-lettered alone; a
// store failure retries every judgment of its source's write (those already
// stored are a no-op then, and are not counted again).
func (m *Monitor) storeJudgments(ctx context.Context, msgs []*streams.Msg, bodies []*schemas.Judgment) error {
	errs := make(streams.BatchErrors, len(msgs))
	bySource := map[string][]int{} // source -> indexes in msgs
	var sources []string
	for i, j := range bodies {
		if err := checkJudgment(j); err != nil {
			errs[i] = err
			continue
		}
		if _, ok := bySource[j.Source]; !ok {
			sources = append(sources, j.Source)
		}
		bySource[j.Source] = append(bySource[j.Source], i)
	}
	for _, source := range sources {
		at := bySource[source]
		recs := make([]warehouse.JudgmentRecord, len(at))
		for k, i := range at {
			j := bodies[i]
			recs[k] = warehouse.JudgmentRecord{ID: j.ID, Query: j.Query, DocumentID: j.DocumentID, Grade: j.Grade,
				Source: j.Source, RequestID: j.RequestID, TraceID: j.TraceID,
				// The time the stream stored it when the publisher gave
				// none: the same for every redelivery.
				CreatedAt: firstSet(j.CreatedAt, msgs[i].Stored)}
		}
		for len(recs) > 0 {
			added, err := m.judgmentStore.PutJudgments(ctx, recs)
			var invalid *warehouse.InvalidJudgmentError
			if errors.As(err, &invalid) && invalid.Index >= 0 && invalid.Index < len(recs) {
				// checkJudgment let through what the store refuses: that
				// one goes to the DLQ, the others are written without it.
				k := invalid.Index
				errs[at[k]] = streams.Permanent(fmt.Errorf("store judgment %s: %w", recs[k].ID, err))
				recs, at = slices.Delete(recs, k, k+1), slices.Delete(at, k, k+1)
				continue
			}
			if err != nil {
				for _, i := range at {
					errs[i] = fmt.Errorf("store %d judgments: %w", len(recs), err)
				}
				break
			}
			m.metrics.observeJudgments(source, added)
			break
		}
	}
	return errs.Err()
}

// checkJudgment refuses, as an invalid message (dead-lettered with reason
// invalid), what judgment/v1's schema lets through but no learner can use:
// a grade above schemas.MaxGrade (the schema leaves the scale open), and
// fields that are empty or blank.
func checkJudgment(j *schemas.Judgment) error {
	switch {
	case j.Grade > schemas.MaxGrade:
		return fmt.Errorf("%w: judgment %s: grade %d is above the scale's %d", schemas.ErrInvalid, j.ID, j.Grade, schemas.MaxGrade)
	case strings.TrimSpace(j.ID) == "", strings.TrimSpace(j.Query) == "", strings.TrimSpace(j.DocumentID) == "", j.Source == "":
		return fmt.Errorf("%w: judgment %q: id, query, document_id and source must not be blank", schemas.ErrInvalid, j.ID)
	}
	rec := warehouse.JudgmentRecord{ID: j.ID, Query: j.Query, DocumentID: j.DocumentID, Grade: j.Grade}
	if err := warehouse.ValidateJudgment(rec); err != nil {
		return fmt.Errorf("%w: %w", schemas.ErrInvalid, err)
	}
	return nil
}
