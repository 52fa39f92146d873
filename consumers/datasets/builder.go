package datasets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/rag"
	"github.com/twin-llm/twin/internal/models/llm"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// Errors of Build.
var (
	// ErrInvalid is a request that cannot be built: an unknown kind or
	// format, no directory, a test share outside [0, 1), a directory
	// holding other files.
	ErrInvalid = errors.New("datasets: invalid request")
	// ErrEmpty is a build whose filters kept no example; nothing is
	// written nor recorded, and the record returned says what was dropped.
	ErrEmpty = errors.New("datasets: no example passed the filters")
	// ErrUnavailable is a kind whose source the builder was not given
	// (relevance without a judgment store).
	ErrUnavailable = errors.New("datasets: source not available")
)

// Defaults of a build.
const (
	DefaultTestShare       = 0.1
	DefaultPairsPerExtract = 3
)

// Documents reads the author's documents.
type Documents interface {
	List(ctx context.Context, opts warehouse.ListOptions) ([]warehouse.Document, error)
	ListByAuthor(ctx context.Context, authorID string, opts warehouse.ListOptions) ([]warehouse.Document, error)
	Get(ctx context.Context, collection, id string) (warehouse.Document, error)
}

// Traces reads prompt traces with their ratings.
type Traces interface {
	ListTraces(ctx context.Context, opts warehouse.TraceListOptions) ([]warehouse.TraceRecord, error)
}

// Judgments reads relevance judgments.
type Judgments interface {
	ListJudgments(ctx context.Context, opts warehouse.JudgmentListOptions) ([]warehouse.JudgmentRecord, error)
}

// Records keeps the dataset records.
type Records interface {
	PutDataset(ctx context.Context, rec warehouse.DatasetRecord) error
}

// Config is what a Builder reads from and writes to.
type Config struct {
	// Docs is required for instruct and preference sets.
	Docs Documents
	// Traces adds the triples of rated answers to preference sets; nil
	// leaves them out.
	Traces Traces
	// Judgments is required for relevance sets.
	Judgments Judgments
	// Records stores each build's record; nil stores none.
	Records Records
	// LLM writes instruction pairs and rejected answers. Nil: pairs come
	// from headings and titles, and the rejected answer of a triple is the
	// embedded extractive answerer's.
	LLM llm.Model
	// PairsPerExtract is how many pairs the LLM writes per extract;
	// DefaultPairsPerExtract when 0.
	PairsPerExtract int
	Filters         Filters
	Log             zerolog.Logger
	// Now is the clock of the records; time.Now when nil.
	Now func() time.Time
}

// Builder builds datasets. It is safe for concurrent use.
type Builder struct {
	cfg   Config
	guard *rag.Guard
}

// New returns a builder.
func New(cfg Config) (*Builder, error) {
	if cfg.PairsPerExtract <= 0 {
		cfg.PairsPerExtract = DefaultPairsPerExtract
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Filters = cfg.Filters.withDefaults()
	// The chat's output guardrail: its redaction rules are what counts as
	// personal data here too. Its question limits do not apply.
	g, err := rag.NewGuard(0, nil)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	return &Builder{cfg: cfg, guard: g}, nil
}

// Request is one build.
type Request struct {
	// Kind is KindInstruct, KindPreference or KindRelevance.
	Kind string
	// Author keeps one author's documents and traces; every author's when
	// empty. Relevance judgments have no author and ignore it.
	Author string
	// Dir is the directory the files are written to: created when absent,
	// and it must hold nothing but the files of an earlier build.
	Dir string
	// Seed decides the split.
	Seed int64
	// TestShare is the share of examples in test.jsonl, in [0, 1);
	// DefaultTestShare when 0.
	TestShare float64
	// Format of the lines: FormatAlpaca (default) or FormatChat for
	// instruct; FormatDPO and FormatRelevance are the only ones of the
	// other kinds, and the default.
	Format string
	// ID names the record; a new one (kind, time, random) when empty.
	ID string
	// URI is recorded as where the files are, for a caller that uploads
	// them after the build; the absolute Dir when empty.
	URI string
}

// KindFor is the dataset kind a training kind (schemas.TrainingSFT, DPO,
// rerank) learns from.
func KindFor(trainingKind string) (string, error) {
	switch trainingKind {
	case schemas.TrainingSFT:
		return KindInstruct, nil
	case schemas.TrainingDPO:
		return KindPreference, nil
	case schemas.TrainingRerank:
		return KindRelevance, nil
	}
	return "", fmt.Errorf("%w: no dataset kind for training kind %q", ErrInvalid, trainingKind)
}

func (r *Request) normalize() error {
	switch r.Kind {
	case KindInstruct:
		if r.Format == "" {
			r.Format = FormatAlpaca
		}
		if r.Format != FormatAlpaca && r.Format != FormatChat {
			return fmt.Errorf("%w: format %q of an instruct set: want %s or %s", ErrInvalid, r.Format, FormatAlpaca, FormatChat)
		}
	case KindPreference, KindRelevance:
		want := map[string]string{KindPreference: FormatDPO, KindRelevance: FormatRelevance}[r.Kind]
		if r.Format == "" {
			r.Format = want
		}
		if r.Format != want {
			return fmt.Errorf("%w: format %q of a %s set: want %s", ErrInvalid, r.Format, r.Kind, want)
		}
	default:
		return fmt.Errorf("%w: kind %q: want %s, %s or %s", ErrInvalid, r.Kind, KindInstruct, KindPreference, KindRelevance)
	}
	if r.Dir == "" {
		return fmt.Errorf("%w: no output directory", ErrInvalid)
	}
	if r.TestShare < 0 || r.TestShare >= 1 {
		return fmt.Errorf("%w: test share %v: want a number from 0 to below 1", ErrInvalid, r.TestShare)
	}
	if r.TestShare == 0 {
		r.TestShare = DefaultTestShare
	}
	return nil
}

// lineage collects where a build's examples came from and what it
// dropped before the filters.
type lineage struct {
	dropped       map[string]int
	model, prompt string
	seqFirst      int64
	seqLast       int64
}

// Build makes one dataset: it reads the sources of req.Kind, filters and
// splits the examples, writes req.Dir/train.jsonl, test.jsonl and
// manifest.json, stores the record (when the builder has Records) and
// returns it. When no example passes the filters it writes nothing and
// returns the record with ErrEmpty.
func (b *Builder) Build(ctx context.Context, req Request) (warehouse.DatasetRecord, error) {
	if err := req.normalize(); err != nil {
		return warehouse.DatasetRecord{}, err
	}
	dir, err := filepath.Abs(req.Dir)
	if err != nil {
		return warehouse.DatasetRecord{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := checkDir(dir); err != nil {
		return warehouse.DatasetRecord{}, err
	}
	lin := &lineage{dropped: make(map[string]int)}
	var examples []Example
	switch req.Kind {
	case KindInstruct:
		examples, err = b.instructions(ctx, req.Author, lin)
	case KindPreference:
		examples, err = b.preferences(ctx, req.Author, lin)
	case KindRelevance:
		examples, err = b.relevance(ctx, lin)
	}
	if err != nil {
		return warehouse.DatasetRecord{}, err
	}
	kept := b.cfg.Filters.filter(req.Kind, examples, b.guard, lin.dropped)
	train, test := split(kept, req.Seed, req.TestShare)

	now := b.cfg.Now().UTC()
	rec := warehouse.DatasetRecord{
		ID: req.ID, Kind: req.Kind, Author: req.Author, Format: req.Format, Seed: req.Seed,
		TestShare: req.TestShare, Candidates: len(examples), Kept: len(kept), Dropped: lin.dropped,
		Methods: make(map[string]int), Train: len(train), Test: len(test), URI: req.URI,
		Model: lin.model, PromptVersion: lin.prompt, CreatedAt: now,
	}
	if req.Kind == KindRelevance {
		rec.Author = ""
		rec.JudgmentSeqFirst, rec.JudgmentSeqLast = lin.seqFirst, lin.seqLast
	}
	if rec.ID == "" {
		rec.ID = newID(req.Kind, now)
	}
	if rec.URI == "" {
		rec.URI = dir
	}
	docs, feedback, judgments := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range kept {
		rec.Methods[e.Method]++
		if e.DocumentID != "" {
			docs[e.DocumentID] = true
		}
		for _, id := range e.FeedbackIDs {
			feedback[id] = true
		}
		if e.JudgmentID != "" {
			judgments[e.JudgmentID] = true
		}
	}
	rec.DocumentIDs, rec.FeedbackIDs, rec.JudgmentIDs = sortedKeys(docs), sortedKeys(feedback), sortedKeys(judgments)
	if len(kept) == 0 {
		return rec, ErrEmpty
	}
	if err := write(dir, req.Format, train, test, rec); err != nil {
		return rec, err
	}
	if b.cfg.Records != nil {
		if err := b.cfg.Records.PutDataset(ctx, rec); err != nil {
			return rec, fmt.Errorf("record dataset %s: %w", rec.ID, err)
		}
	}
	b.cfg.Log.Info().Str("dataset", rec.ID).Str("kind", rec.Kind).Int("kept", rec.Kept).
		Int("train", rec.Train).Int("test", rec.Test).Interface("dropped", rec.Dropped).Msg("dataset built")
	return rec, nil
}

func newID(kind string, now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return kind + "-" + now.Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
