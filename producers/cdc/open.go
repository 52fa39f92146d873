package cdc

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

// Mode is how the producer reads the warehouse's changes.
type Mode string

const (
	// ModeAuto reads change streams on a MongoDB replica set, else the tail.
	ModeAuto Mode = "auto"
	// ModeChangeStream reads MongoDB change streams; it needs a replica set.
	ModeChangeStream Mode = "changestream"
	// ModeTail reads the revisions the store allocates, on any warehouse.
	ModeTail Mode = "tail"
)

// ParseMode checks a mode's name; the empty name is ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeChangeStream, ModeTail:
		return m, nil
	}
	return "", fmt.Errorf("CDC mode %q: want auto, changestream or tail", s)
}

// MongoGapGrace is how long the tail of a MongoDB warehouse watches a
// missing revision for a late commit: several writers may commit out of
// order. SQLite commits its revisions in order and needs none.
const MongoGapGrace = 30 * time.Second

// Config is what Open builds the producer from.
type Config struct {
	Mode      Mode
	Store     warehouse.Store
	Publisher *streams.Publisher
	JS        jetstream.JetStream // for the checkpoint
	// Indexed lists the documents the search index holds, for the tail's
	// re-snapshot (see TailConfig.Indexed).
	Indexed func(ctx context.Context) (map[string]int64, error)
	Log     zerolog.Logger
}

// Producer publishes the warehouse's changes until ctx ends.
type Producer interface {
	Run(ctx context.Context) error
}

// Open picks the way changes are read (for ModeAuto: change streams on a
// MongoDB replica set, else the revision tail), opens its checkpoint and
// returns the producer with the mode it picked.
func Open(ctx context.Context, cfg Config) (Producer, Mode, error) {
	mode, err := ParseMode(string(cfg.Mode))
	if err != nil {
		return nil, "", err
	}
	mongo, isMongo := cfg.Store.(*warehouse.MongoStore)
	if mode == ModeAuto {
		mode = ModeTail
		if isMongo && isReplicaSet(ctx, mongo) {
			mode = ModeChangeStream
		}
	}
	log := cfg.Log.With().Str("mode", string(mode)).Logger()
	if mode == ModeChangeStream {
		if !isMongo {
			return nil, mode, fmt.Errorf("CDC mode changestream needs the MongoDB warehouse")
		}
		cp, err := OpenCheckpoint(ctx, cfg.JS, string(ModeChangeStream))
		if err != nil {
			return nil, mode, err
		}
		return NewWatcher(MongoOpener(mongo.Database()), cfg.Store, cfg.Publisher, cp, log), mode, nil
	}
	cp, err := OpenCheckpoint(ctx, cfg.JS, string(ModeTail))
	if err != nil {
		return nil, mode, err
	}
	tcfg := TailConfig{Indexed: cfg.Indexed}
	if isMongo {
		tcfg.GapGrace = MongoGapGrace
	}
	return NewTail(cfg.Store, cfg.Publisher, cp, tcfg, log), mode, nil
}

// isReplicaSet asks the server's hello whether it is a replica set, the
// only kind with change streams.
func isReplicaSet(ctx context.Context, m *warehouse.MongoStore) bool {
	var hello struct {
		SetName string `bson:"setName"`
	}
	err := m.Database().RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello)
	return err == nil && hello.SetName != ""
}
