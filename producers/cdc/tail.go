package cdc

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Changes is what the tail reads from the warehouse.
type Changes interface {
	Pages
	Subscribe() (<-chan struct{}, func())
}

// Reviser is what the tail needs of the warehouse to recover when it is
// behind the checkpoint. warehouse.Store implements it; a store without it
// is trusted to be ahead.
type Reviser interface {
	LastRevision(ctx context.Context) (int64, error)
	AdvanceRevision(ctx context.Context, atLeast int64) error
	DocumentRevisions(ctx context.Context, ids []string) (map[string]int64, error)
}

// TailConfig tunes a revision tail.
type TailConfig struct {
	Batch int           // changes read and published at a time; default 512
	Poll  time.Duration // re-read this often even without a wake-up (writes by other processes); default 1s
	// GapGrace is how long a revision missing below the highest one read is
	// watched for a late commit. Zero (right for SQLite, which allocates
	// revisions inside the write transaction, so they commit in order)
	// watches none. MongoDB needs it: two writers can commit out of order.
	// A missing revision is usually no late commit at all but a version
	// already superseded by a newer write of the same document; the grace
	// only holds the checkpoint back, never the publishing.
	GapGrace time.Duration
	// Indexed lists the documents the search index holds (id → revision),
	// so that a re-snapshot also removes those the warehouse lacks. Nil
	// leaves them.
	Indexed func(ctx context.Context) (map[string]int64, error)
}

// Tail publishes the warehouse's changes in revision order.
//
// Invariants:
//   - the checkpoint is a revision R such that every revision ≤ R was
//     published and acknowledged, superseded, or watched for GapGrace;
//   - it is stored only after the publishes up to it were acknowledged, so
//     a crash replays from R at worst, and the replay is deduplicated by the
//     events' Nats-Msg-Id (collection, id, revision);
//   - a revision that commits late (below revisions already read) is still
//     published, as long as it commits within GapGrace;
//   - the warehouse is never behind the checkpoint while the tail runs: at
//     start, a warehouse that is (restored from an older copy, or it lost
//     its last commits) has its revision counter moved past the checkpoint,
//     so that no new write gets a revision the tail has passed, and every
//     document it holds is published again (a re-snapshot, marked in the
//     bucket until done, so a crash in between redoes it).
type Tail struct {
	store Changes
	pub   *streams.Publisher
	cp    *Checkpoint
	cfg   TailConfig
	log   zerolog.Logger
	now   func() time.Time
}

// NewTail returns a tail of store publishing through pub, checkpointed in cp.
func NewTail(store Changes, pub *streams.Publisher, cp *Checkpoint, cfg TailConfig, log zerolog.Logger) *Tail {
	if cfg.Batch <= 0 {
		cfg.Batch = 512
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Tail{store: store, pub: pub, cp: cp, cfg: cfg, log: log, now: time.Now}
}

// Run tails until ctx ends.
func (t *Tail) Run(ctx context.Context) error {
	wake, unsubscribe := t.store.Subscribe()
	defer unsubscribe()
	saved, err := t.cp.Load(ctx)
	if err != nil {
		return err
	}
	checkpoint, err := revision(saved)
	if err != nil {
		// An unreadable position: start over; the CDC stream's dedup and the
		// featurizer's idempotence absorb the replay.
		t.log.Error().Str("checkpoint", saved).Msg("unreadable tail checkpoint; re-reading every change")
		checkpoint = 0
	}
	for {
		err := t.catchUp(ctx, checkpoint)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		t.log.Warn().Err(err).Msg("checking the warehouse against the checkpoint failed; retrying")
		if !sleep(ctx, time.Second) {
			return nil
		}
	}
	t.log.Info().Int64("from_revision", checkpoint).Msg("revision tail started")
	st := tailState{checkpoint: checkpoint, cursor: checkpoint, missing: map[int64]time.Time{}}
	for {
		progressed, err := t.step(ctx, &st)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t.log.Warn().Err(err).Msg("revision tail step failed; retrying")
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		if progressed {
			continue // there may be more right away
		}
		timer := time.NewTimer(t.cfg.Poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// catchUp makes a warehouse that is behind the checkpoint (its highest
// revision below it) whole again: it moves the warehouse's revisions past
// the checkpoint and re-publishes every document up to it, with ids of
// their own (the old events' ids would be deduplicated away), and a
// delete for every indexed document the warehouse no longer holds.
func (t *Tail) catchUp(ctx context.Context, checkpoint int64) error {
	rv, ok := t.store.(Reviser)
	if !ok {
		return nil
	}
	marker := t.cp.sibling("resnapshot")
	pending, err := marker.Load(ctx)
	if err != nil {
		return err
	}
	last, err := rv.LastRevision(ctx)
	if err != nil {
		return err
	}
	switch {
	case last < checkpoint:
		t.log.Warn().Int64("checkpoint", checkpoint).Int64("warehouse_revision", last).
			Msg("the warehouse is behind the CDC checkpoint (restored from an older copy, or it lost its last commits): moving its revisions past the checkpoint and re-publishing every document")
		// The marker first: once the counter moves, nothing else would
		// tell a restart that the re-snapshot is not done.
		if err := marker.Store(ctx, strconv.FormatInt(checkpoint, 10)); err != nil {
			return err
		}
		if err := rv.AdvanceRevision(ctx, checkpoint); err != nil {
			return err
		}
	case pending != "":
		t.log.Warn().Int64("checkpoint", checkpoint).Int64("warehouse_revision", last).
			Msg("resuming an interrupted re-snapshot of the warehouse")
	default:
		return nil
	}
	docs, removed, err := t.resnapshot(ctx, rv, checkpoint)
	if err != nil {
		return err
	}
	if err := marker.Delete(ctx); err != nil {
		return err
	}
	t.log.Warn().Int64("checkpoint", checkpoint).Int("documents", docs).Int("removed", removed).
		Msg("re-snapshot done: the index follows the warehouse again")
	return nil
}

// resnapshot publishes every document up to revision upTo, and a delete
// for every indexed document the warehouse does not hold.
func (t *Tail) resnapshot(ctx context.Context, rv Reviser, upTo int64) (docs, removed int, err error) {
	at := t.now()
	docs, err = Republish(ctx, t.pub, t.store, RepublishOptions{Reason: "resnapshot", At: at, UpTo: upTo, Page: t.cfg.Batch})
	if err != nil {
		return docs, removed, err
	}
	if t.cfg.Indexed == nil {
		return docs, removed, nil
	}
	indexed, err := t.cfg.Indexed(ctx)
	if err != nil {
		return docs, removed, err
	}
	ids := make([]string, 0, len(indexed))
	for id := range indexed {
		ids = append(ids, id)
	}
	held, err := rv.DocumentRevisions(ctx, ids)
	if err != nil {
		return docs, removed, err
	}
	var outs []streams.Out
	for _, id := range ids {
		if _, ok := held[id]; ok {
			continue
		}
		// Revision 0: a delete of whatever the index holds, which the
		// warehouse never contradicts. The collection is unknown: any one
		// routes a delete.
		ev := &schemas.CDCEvent{Collection: warehouse.Articles, Op: schemas.OpDelete, DocumentID: id, ChangedAt: t.now().UTC()}
		outs = append(outs, streams.Out{
			Subject: schemas.CDC(ev.Collection, ev.Op),
			MsgID:   "resnapshot:" + at.UTC().Format(time.RFC3339Nano) + ":gone:" + id,
			Body:    ev,
		})
	}
	if len(outs) > 0 {
		if _, err := t.pub.PublishBatch(ctx, outs); err != nil {
			return docs, removed, err
		}
	}
	return docs, len(outs), nil
}

// tailState is the tail's position: the stored checkpoint, the highest
// revision read, and the revisions between them not seen yet (watched for a
// late commit), with since when.
type tailState struct {
	checkpoint int64
	cursor     int64
	missing    map[int64]time.Time
}

// step publishes what was written after the cursor, then what filled a
// watched gap, and moves the checkpoint. It reports whether it published
// anything.
func (t *Tail) step(ctx context.Context, st *tailState) (bool, error) {
	docs, err := t.store.Changes(ctx, st.cursor, t.cfg.Batch)
	if err != nil {
		return false, err
	}
	now := t.now()
	if t.cfg.GapGrace > 0 && len(st.missing) > 0 {
		late, err := t.lateCommits(ctx, st)
		if err != nil {
			return false, err
		}
		docs = append(late, docs...)
	}
	if len(docs) > 0 {
		outs := make([]streams.Out, 0, len(docs))
		for i := range docs {
			outs = append(outs, Event(&docs[i]))
		}
		if _, err := t.pub.PublishBatch(ctx, outs); err != nil {
			return false, err
		}
	}
	for _, d := range docs {
		if d.Revision <= st.cursor {
			delete(st.missing, d.Revision) // a late commit, now published
			continue
		}
		if t.cfg.GapGrace > 0 {
			for r := st.cursor + 1; r < d.Revision; r++ {
				st.missing[r] = now
			}
		}
		st.cursor = d.Revision
	}
	next := st.cursor
	for r, since := range st.missing {
		if now.Sub(since) >= t.cfg.GapGrace {
			delete(st.missing, r)
		} else if r <= next {
			next = r - 1
		}
	}
	if next > st.checkpoint {
		if err := t.cp.Store(ctx, strconv.FormatInt(next, 10)); err != nil {
			return len(docs) > 0, err
		}
		st.checkpoint = next
	}
	return len(docs) > 0, nil
}

// lateCommits reads the revisions between the checkpoint and the cursor
// and returns those that were missing: commits that came late.
func (t *Tail) lateCommits(ctx context.Context, st *tailState) ([]warehouse.Document, error) {
	var late []warehouse.Document
	for after := st.checkpoint; after < st.cursor; {
		docs, err := t.store.Changes(ctx, after, t.cfg.Batch)
		if err != nil {
			return nil, err
		}
		if len(docs) == 0 {
			break
		}
		for _, d := range docs {
			if d.Revision > st.cursor {
				return late, nil
			}
			if _, ok := st.missing[d.Revision]; ok {
				late = append(late, d)
			}
		}
		after = docs[len(docs)-1].Revision
	}
	return late, nil
}

// Event is the CDC message of one warehouse document at its revision.
func Event(d *warehouse.Document) streams.Out {
	op := schemas.OpReplace // the full document as of this revision
	var body *schemas.Document
	if d.Deleted {
		op = schemas.OpDelete
	} else {
		c := warehouse.ToContract(d)
		body = &c
	}
	ev := &schemas.CDCEvent{
		Collection: d.Collection,
		Op:         op,
		DocumentID: d.ID,
		Revision:   d.Revision,
		Token:      strconv.FormatInt(d.Revision, 10),
		Document:   body,
		ChangedAt:  d.UpdatedAt.UTC(),
	}
	return streams.Out{
		Subject:    schemas.CDC(d.Collection, op),
		MsgID:      eventID(d, op),
		Body:       ev,
		OriginTime: d.UpdatedAt,
	}
}

// eventID is the dedup key of a document's event: its collection, id and
// revision, which a replay repeats, and its op and content hash. Those
// matter after a warehouse is restored from an older copy: it hands out
// again the revisions after the checkpoint, which the stream may have
// carried with another content within the dedup window; with the hash, a
// reused revision is dropped only if it carries what the old one did.
func eventID(d *warehouse.Document, op string) string {
	hash := d.ContentHash
	if len(hash) > 16 {
		hash = hash[:16]
	}
	return fmt.Sprintf("cdc:%s:%s:%d:%s:%s", d.Collection, d.ID, d.Revision, op, hash)
}
