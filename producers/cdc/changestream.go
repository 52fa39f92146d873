package cdc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// changeStream is what the watcher reads; *mongo.ChangeStream is the real
// one, and tests replay recorded events through a fake.
type changeStream interface {
	Next(ctx context.Context) bool
	TryNext(ctx context.Context) bool
	Event() bson.Raw
	ResumeToken() bson.Raw
	Err() error
	Close(ctx context.Context) error
}

// Opener opens a change stream after token, or at the present when token
// is nil.
type Opener func(ctx context.Context, token bson.Raw) (changeStream, error)

// Watcher publishes a MongoDB replica set's changes from one
// database-level change stream.
//
// Invariants:
//   - the resume token is checkpointed only after every earlier event's
//     publish was acknowledged, so a crash resumes at or before the first
//     unpublished event, and the replay is deduplicated by Nats-Msg-Id;
//   - the stream is opened before a snapshot is taken, so a write during the
//     snapshot is in the stream: nothing falls between the two;
//   - a position the server cannot resume from (history rolled off the
//     oplog, an invalid token) leads to a logged re-snapshot, never a
//     silent gap.
type Watcher struct {
	open     Opener
	snapshot Pages
	pub      *streams.Publisher
	cp       *Checkpoint
	log      zerolog.Logger
}

// NewWatcher returns a watcher.
func NewWatcher(open Opener, snapshot Pages, pub *streams.Publisher, cp *Checkpoint, log zerolog.Logger) *Watcher {
	return &Watcher{open: open, snapshot: snapshot, pub: pub, cp: cp, log: log}
}

// MongoOpener watches db's warehouse collections with full documents on
// update (updateLookup).
func MongoOpener(db *mongo.Database) Opener {
	pipeline := mongo.Pipeline{{{Key: "$match", Value: bson.D{
		{Key: "ns.coll", Value: bson.D{{Key: "$in", Value: warehouse.Collections()}}},
		{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert", "update", "replace", "delete"}}}},
	}}}}
	return func(ctx context.Context, token bson.Raw) (changeStream, error) {
		opts := options.ChangeStream().SetFullDocument(options.UpdateLookup)
		if token != nil {
			opts.SetStartAfter(token)
		}
		cs, err := db.Watch(ctx, pipeline, opts)
		if err != nil {
			return nil, err
		}
		return mongoStream{cs}, nil
	}
}

type mongoStream struct{ *mongo.ChangeStream }

func (m mongoStream) Event() bson.Raw { return m.Current }

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := w.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if unresumable(err) {
			w.log.Error().Err(err).Msg("change stream cannot resume from its checkpoint; re-snapshotting")
			if err := w.cp.Delete(ctx); err != nil {
				w.log.Warn().Err(err).Msg("forget checkpoint")
			}
			continue
		}
		w.log.Warn().Err(err).Msg("change stream failed; resuming")
		if !sleep(ctx, min(time.Duration(attempt+1)*time.Second, 30*time.Second)) {
			return nil
		}
	}
}

// watch opens the stream (snapshotting first when there is no checkpoint)
// and publishes its events until an error or ctx ends.
func (w *Watcher) watch(ctx context.Context) error {
	saved, err := w.cp.Load(ctx)
	if err != nil {
		return err
	}
	var token bson.Raw
	if saved != "" {
		if token, err = base64.StdEncoding.DecodeString(saved); err != nil {
			return fmt.Errorf("%w: checkpoint is not a token: %v", errUnresumable, err)
		}
	}
	cs, err := w.open(ctx, token)
	if err != nil {
		return err
	}
	defer cs.Close(context.WithoutCancel(ctx))
	if token == nil {
		if err := w.snapshotAll(ctx); err != nil {
			return err
		}
		if t := cs.ResumeToken(); t != nil {
			if err := w.cp.Store(ctx, base64.StdEncoding.EncodeToString(t)); err != nil {
				return err
			}
		}
	}
	for cs.Next(ctx) {
		// Gather what is ready now, publish it as one batch, and checkpoint
		// the token after the last event only once all are acknowledged.
		var outs []streams.Out
		for {
			out, ok, err := changeEvent(cs.Event())
			if err != nil {
				w.log.Error().Err(err).Msg("skipping an unreadable change event")
			} else if ok {
				outs = append(outs, out)
			}
			if len(outs) >= 256 || !cs.TryNext(ctx) {
				break
			}
		}
		if len(outs) > 0 {
			if _, err := w.pub.PublishBatch(ctx, outs); err != nil {
				return err
			}
		}
		if err := w.cp.Store(ctx, base64.StdEncoding.EncodeToString(cs.ResumeToken())); err != nil {
			return err
		}
	}
	return cs.Err()
}

// snapshotAll publishes every document as it is now.
func (w *Watcher) snapshotAll(ctx context.Context) error {
	w.log.Info().Msg("snapshotting the warehouse")
	// A snapshot's events have ids of their own: a warehouse restored from
	// an older copy can hold a document at a revision the stream carried
	// with other content, and the old event's id would drop the new one.
	n, err := Republish(ctx, w.pub, w.snapshot, RepublishOptions{Reason: "snapshot"})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	w.log.Info().Int("documents", n).Msg("snapshot published")
	return nil
}

// changeEvent is the CDC message of one change stream event. It reports
// false for an event twin does not carry (another collection).
func changeEvent(raw bson.Raw) (streams.Out, bool, error) {
	var ev struct {
		ID            bson.Raw `bson:"_id"`
		OperationType string   `bson:"operationType"`
		NS            struct {
			Coll string `bson:"coll"`
		} `bson:"ns"`
		DocumentKey struct {
			ID string `bson:"_id"`
		} `bson:"documentKey"`
		FullDocument bson.Raw       `bson:"fullDocument"`
		ClusterTime  bson.Timestamp `bson:"clusterTime"`
		WallTime     time.Time      `bson:"wallTime"`
	}
	if err := bson.Unmarshal(raw, &ev); err != nil {
		return streams.Out{}, false, fmt.Errorf("change event: %w", err)
	}
	if !slices.Contains(warehouse.Collections(), ev.NS.Coll) {
		return streams.Out{}, false, nil
	}
	token := tokenKey(ev.ID)
	changed := ev.WallTime
	if changed.IsZero() && ev.ClusterTime.T > 0 {
		changed = time.Unix(int64(ev.ClusterTime.T), 0)
	}
	if len(ev.FullDocument) > 0 {
		d, err := warehouse.DecodeMongo(ev.NS.Coll, ev.FullDocument)
		if err != nil {
			return streams.Out{}, false, err
		}
		out := Event(&d)
		// A tombstone is a delete whatever the operation; otherwise keep
		// the stream's own operation.
		ce := out.Body.(*schemas.CDCEvent)
		if !d.Deleted && ev.OperationType != "" {
			ce.Op = ev.OperationType
			out.Subject = schemas.CDC(d.Collection, ce.Op)
		}
		ce.Token = token
		return out, true, nil
	}
	// No full document: a physical delete, or an update whose document was
	// gone by the time of the lookup. The key is all there is; consumers
	// look the document up (and treat it as deleted when it is gone).
	op := ev.OperationType
	if op != schemas.OpDelete {
		op = schemas.OpUpdate
	}
	ce := &schemas.CDCEvent{Collection: ev.NS.Coll, Op: op, DocumentID: ev.DocumentKey.ID, Token: token, ChangedAt: changed.UTC()}
	return streams.Out{
		Subject:    schemas.CDC(ev.NS.Coll, op),
		MsgID:      "cdc:" + ev.NS.Coll + ":" + ev.DocumentKey.ID + ":token:" + token,
		Body:       ce,
		OriginTime: changed,
	}, true, nil
}

// tokenKey is a short, stable text form of a resume token.
func tokenKey(id bson.Raw) string {
	sum := sha256.Sum256(id)
	return hex.EncodeToString(sum[:12])
}

var errUnresumable = errors.New("change stream cannot resume")

// unresumable reports whether err means the stream cannot continue from
// its checkpoint: the history is gone, or the token is not valid.
func unresumable(err error) bool {
	if errors.Is(err, errUnresumable) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		// ChangeStreamHistoryLost, InvalidResumeToken, ChangeStreamFatalError.
		return se.HasErrorCode(286) || se.HasErrorCode(260) || se.HasErrorCode(280)
	}
	return false
}
