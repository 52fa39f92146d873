// Package rerank is the trainer's in-process executor for training kind
// rerank: it fits the learned retrieval reranker on the relevance
// judgments in the warehouse, over each judged query's candidates as the
// searcher returns them in service, evaluates it against the reranker in
// service on held-out queries, and writes the model file as the job's
// artifact.
package rerank

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// Judgments reads the relevance judgments; warehouse.JudgmentStore
// satisfies it.
type Judgments interface {
	ListJudgments(ctx context.Context, opts warehouse.JudgmentListOptions) ([]warehouse.JudgmentRecord, error)
}

// Searcher returns a query's candidates as serving sees them;
// *retrieval.Searcher satisfies it.
type Searcher interface {
	Search(ctx context.Context, r retrieval.Request) ([]retrieval.Hit, error)
}

// ModelFile is the name of the model file in the job's output directory.
const ModelFile = "model.json"

// Defaults of Config.
const (
	DefaultDepth     = 50
	DefaultTestShare = 0.2
	// MinQueries is the fewest judged queries a job trains on: at least
	// one to fit and one to test.
	MinQueries = 2
)

// Config wires the executor. Judgments and Search are required.
type Config struct {
	Judgments Judgments
	Search    Searcher
	// Serving returns the reranker in service, which the candidate is
	// measured against; nil, or a nil result, measures against
	// rerank.NewLexical(), the embedded default.
	Serving func() rerank.Reranker
	// Depth is how many candidates each judged query is searched for, the
	// number serving reranks; default DefaultDepth, at most
	// retrieval.MaxK. Hyperparameter "depth" overrides it per job.
	Depth int
	// TestShare is the share of judged queries held out for the
	// evaluation, in (0, 1); default DefaultTestShare. Hyperparameter
	// "test_share".
	TestShare float64
	// Seed picks the split: a query is held out by a hash of the seed and
	// the query, so the same seed and judgments give the same split.
	// Hyperparameter "seed".
	Seed uint64
	// Fit configures the fitting; its zero value is the default model.
	// Hyperparameters "epochs", "l2", "learning_rate", "truncate_at",
	// "trees" (0 for a linear model), "tree_depth", "shrinkage",
	// "min_leaf" and "features" (comma-separated names) override it.
	Fit rerank.FitOptions
	// CVFolds, when 2 or more, chooses the model's number of trees (0,
	// the linear model, up to Fit's) by cross-validation over the
	// training queries in that many folds (rerank.FitSelected), at about
	// twice the cost of a fit with 3 folds; default 0, off. Hyperparameter
	// "cv_folds".
	CVFolds int
	Log     zerolog.Logger
}

// Executor is the rerank executor.
type Executor struct {
	cfg Config
	ex  *rerank.Extractor
}

// New returns the executor, or an error when cfg cannot work.
func New(cfg Config) (*Executor, error) {
	if cfg.Judgments == nil || cfg.Search == nil {
		return nil, errors.New("trainer/rerank: Judgments and Search are required")
	}
	if cfg.Depth == 0 {
		cfg.Depth = DefaultDepth
	}
	if cfg.TestShare == 0 {
		cfg.TestShare = DefaultTestShare
	}
	if cfg.Depth < 1 || cfg.Depth > retrieval.MaxK {
		return nil, fmt.Errorf("trainer/rerank: depth %d outside 1..%d", cfg.Depth, retrieval.MaxK)
	}
	if !(cfg.TestShare > 0 && cfg.TestShare < 1) {
		return nil, fmt.Errorf("trainer/rerank: test share %v outside (0, 1)", cfg.TestShare)
	}
	return &Executor{cfg: cfg, ex: rerank.NewExtractor()}, nil
}

// Name is "rerank".
func (e *Executor) Name() string { return "rerank" }

// settings are a job's configuration: the executor's, overridden by the
// job's hyperparameters.
type settings struct {
	depth     int
	testShare float64
	seed      uint64
	fit       rerank.FitOptions
	cvFolds   int
}

func (e *Executor) settings(hp map[string]string) (settings, error) {
	s := settings{depth: e.cfg.Depth, testShare: e.cfg.TestShare, seed: e.cfg.Seed, fit: e.cfg.Fit, cvFolds: e.cfg.CVFolds}
	for key, v := range hp {
		var err error
		switch key {
		case "depth":
			s.depth, err = strconv.Atoi(v)
			if err == nil && (s.depth < 1 || s.depth > retrieval.MaxK) {
				err = fmt.Errorf("outside 1..%d", retrieval.MaxK)
			}
		case "test_share":
			s.testShare, err = strconv.ParseFloat(v, 64)
			if err == nil && !(s.testShare > 0 && s.testShare < 1) {
				err = errors.New("outside (0, 1)")
			}
		case "seed":
			s.seed, err = strconv.ParseUint(v, 10, 64)
		case "epochs":
			s.fit.Epochs, err = strconv.Atoi(v)
			if err == nil && (s.fit.Epochs < 1 || s.fit.Epochs > 100_000) {
				err = errors.New("outside 1..100000")
			}
		case "l2":
			s.fit.L2, err = strconv.ParseFloat(v, 64)
			if err == nil && !(s.fit.L2 >= 0 && s.fit.L2 < math.Inf(1)) {
				err = errors.New("not a non-negative number")
			}
			if s.fit.L2 == 0 {
				s.fit.L2 = -1 // FitOptions' "none"
			}
		case "learning_rate":
			s.fit.LearningRate, err = strconv.ParseFloat(v, 64)
			if err == nil && !(s.fit.LearningRate > 0 && s.fit.LearningRate <= 10) {
				err = errors.New("outside (0, 10]")
			}
		case "truncate_at":
			s.fit.TruncateAt, err = strconv.Atoi(v)
			if err == nil && (s.fit.TruncateAt < 1 || s.fit.TruncateAt > retrieval.MaxK) {
				err = fmt.Errorf("outside 1..%d", retrieval.MaxK)
			}
		case "trees":
			s.fit.Trees, err = strconv.Atoi(v)
			if err == nil && (s.fit.Trees < 0 || s.fit.Trees > 1000) {
				err = errors.New("outside 0..1000")
			}
			if s.fit.Trees == 0 {
				s.fit.Trees = -1 // FitOptions' "none": a linear model
			}
		case "tree_depth":
			s.fit.Depth, err = strconv.Atoi(v)
			if err == nil && (s.fit.Depth < 1 || s.fit.Depth > 8) {
				err = errors.New("outside 1..8")
			}
		case "shrinkage":
			s.fit.Shrinkage, err = strconv.ParseFloat(v, 64)
			if err == nil && !(s.fit.Shrinkage > 0 && s.fit.Shrinkage <= 1) {
				err = errors.New("outside (0, 1]")
			}
		case "min_leaf":
			s.fit.MinLeaf, err = strconv.Atoi(v)
			if err == nil && s.fit.MinLeaf < 1 {
				err = errors.New("below 1")
			}
		case "cv_folds":
			s.cvFolds, err = strconv.Atoi(v)
			if err == nil && (s.cvFolds < 0 || s.cvFolds > 10) {
				err = errors.New("outside 0..10")
			}
		case "features":
			s.fit.Features = nil
			known := map[string]bool{}
			for _, f := range rerank.AllFeatures() {
				known[f] = true
			}
			for f := range strings.SplitSeq(v, ",") {
				f = strings.TrimSpace(f)
				if !known[f] {
					err = fmt.Errorf("unknown feature %q (known: %s)", f, strings.Join(rerank.AllFeatures(), ", "))
					break
				}
				s.fit.Features = append(s.fit.Features, f)
			}
		default:
			err = errors.New("unknown hyperparameter")
		}
		if err != nil {
			return settings{}, fmt.Errorf("%w: hyperparameter %s=%q: %w", trainer.ErrJobFailed, key, v, err)
		}
	}
	return s, nil
}

// Run trains one model. It fails with trainer.ErrJobFailed when the job
// cannot produce a model (bad hyperparameters, too few judged queries, no
// query whose candidates include a judged relevant document), and with
// trainer.ErrJobStopped when ctx is cancelled; a failed read of the
// judgments or a failed search is returned as it is, to be retried.
func (e *Executor) Run(ctx context.Context, job trainer.Job, progress trainer.Progress) (trainer.Result, error) {
	start := time.Now()
	if progress == nil {
		progress = func(string, string, time.Time) {}
	}
	log := e.cfg.Log.With().Str("job", job.ID).Logger()
	s, err := e.settings(job.Hyperparameters)
	if err != nil {
		return trainer.Result{}, err
	}
	if job.OutputDir == "" {
		return trainer.Result{}, fmt.Errorf("%w: the job has no output directory", trainer.ErrJobFailed)
	}
	progress(schemas.StateRunning, "reading relevance judgments", time.Now())
	records, err := e.cfg.Judgments.ListJudgments(ctx, warehouse.JudgmentListOptions{})
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, fmt.Errorf("trainer/rerank: list judgments: %w", err))
	}
	queries := group(records)
	if len(queries) < MinQueries {
		return trainer.Result{}, fmt.Errorf("%w: %d judged queries, need at least %d", trainer.ErrJobFailed, len(queries), MinQueries)
	}
	trainQ, testQ := split(queries, s.seed, s.testShare)
	progress(schemas.StateRunning, fmt.Sprintf("searching %d judged queries (%d to train, %d to test) at depth %d",
		len(queries), len(trainQ), len(testQ), s.depth), time.Now())
	train, err := e.candidates(ctx, trainQ, s.depth)
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, err)
	}
	test, err := e.candidates(ctx, testQ, s.depth)
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, err)
	}

	progress(schemas.StateRunning, fmt.Sprintf("fitting on %d queries", len(train)), time.Now())
	model, sel, err := rerank.FitSelected(ctx, e.ex, train, s.fit, s.cvFolds)
	switch {
	case errors.Is(err, rerank.ErrNoPairs):
		return trainer.Result{}, fmt.Errorf("%w: no training query has a judged relevant document among its %d candidates", trainer.ErrJobFailed, s.depth)
	case errors.Is(err, rerank.ErrConfig):
		return trainer.Result{}, fmt.Errorf("%w: %w", trainer.ErrJobFailed, err)
	case err != nil:
		return trainer.Result{}, e.stopped(ctx, fmt.Errorf("trainer/rerank: fit: %w", err))
	}
	candidate, err := rerank.NewLearned(model)
	if err != nil {
		return trainer.Result{}, fmt.Errorf("%w: %w", trainer.ErrJobFailed, err)
	}
	serving := rerank.Reranker(rerank.NewLexical())
	if e.cfg.Serving != nil {
		if r := e.cfg.Serving(); r != nil {
			serving = r
		}
	}
	progress(schemas.StateRunning, fmt.Sprintf("evaluating on %d held-out queries against %s", len(test), serving.Name()), time.Now())
	got, err := rerank.Evaluate(ctx, candidate, test, 10)
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, err)
	}
	base, err := rerank.Evaluate(ctx, serving, test, 10)
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, err)
	}
	trainEv, err := rerank.Evaluate(ctx, candidate, train, 10)
	if err != nil {
		return trainer.Result{}, e.stopped(ctx, err)
	}
	model.Training.Seed = s.seed
	model.Training.TrainNDCG = trainEv.Reranked
	model.Training.TestNDCG = got.Reranked
	model.Training.TestQueries = got.Queries
	model.Training.CreatedAt = time.Now().UTC()

	path, err := writeModel(job.OutputDir, model)
	if err != nil {
		return trainer.Result{}, err
	}
	res := trainer.Result{
		ArtifactURI: "file://" + filepath.ToSlash(path),
		Metrics: map[string]float64{
			"ndcg@10":           got.Reranked,
			"serving_ndcg@10":   base.Reranked,
			"retrieval_ndcg@10": got.Retrieval,
			"train_ndcg@10":     trainEv.Reranked,
			"train_queries":     float64(len(train)),
			"test_queries":      float64(len(test)),
			"judgments":         float64(len(records)),
			"seconds":           time.Since(start).Seconds(),
		},
	}
	if sel.Folds > 0 {
		res.Metrics["cv_ndcg@10"], res.Metrics["cv_trees"] = sel.NDCG[sel.Trees], float64(sel.Trees)
	}
	log.Info().Str("model", candidate.Name()).Float64("ndcg@10", got.Reranked).Float64("serving_ndcg@10", base.Reranked).
		Int("train_queries", len(train)).Int("test_queries", len(test)).Msg("reranker trained")
	return res, nil
}

// stopped turns an error caused by the job's cancellation into
// trainer.ErrJobStopped.
func (e *Executor) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", trainer.ErrJobStopped, err)
	}
	return err
}

// judgedQuery is one query's judgments: the grade of each document.
type judgedQuery struct {
	text   string
	grades map[string]int
}

// group collects the judgments by query. A query is its text with its
// spaces collapsed; a document judged twice for the same query keeps its
// latest grade (records come in Seq order), so a user who changes their
// mind is heard.
func group(records []warehouse.JudgmentRecord) []judgedQuery {
	index := map[string]int{}
	var out []judgedQuery
	for _, r := range records {
		q := strings.Join(strings.Fields(r.Query), " ")
		if q == "" || r.DocumentID == "" {
			continue
		}
		i, ok := index[q]
		if !ok {
			i = len(out)
			index[q] = i
			out = append(out, judgedQuery{text: q, grades: map[string]int{}})
		}
		out[i].grades[r.DocumentID] = min(max(r.Grade, 0), schemas.MaxGrade)
	}
	return out
}

// Held reports whether query is held out for the test split under seed
// with a test share of share: a query's fate depends only on its text and
// the seed, so adding judgments never moves a query between splits.
func Held(query string, seed uint64, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(seed, 10)))
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(strings.Fields(query), " ")))
	return float64(h.Sum64()%1_000_000) < share*1_000_000
}

// split divides the queries; each side gets at least one.
func split(qs []judgedQuery, seed uint64, share float64) (train, test []judgedQuery) {
	for _, q := range qs {
		if Held(q.text, seed, share) {
			test = append(test, q)
		} else {
			train = append(train, q)
		}
	}
	// With few queries the hash can put all on one side; move the last
	// one over, which is as deterministic.
	switch {
	case len(test) == 0:
		test, train = train[len(train)-1:], train[:len(train)-1]
	case len(train) == 0:
		train, test = test[len(test)-1:], test[:len(test)-1]
	}
	return train, test
}

// candidates searches each query as serving does and grades the hits by
// their documents. Every hit (chunk) stays a candidate, as serving reranks
// chunks; nDCG counts a document once, at its best-ranked chunk.
func (e *Executor) candidates(ctx context.Context, qs []judgedQuery, depth int) ([]rerank.Judged, error) {
	out := make([]rerank.Judged, 0, len(qs))
	for _, q := range qs {
		hits, err := e.cfg.Search.Search(ctx, retrieval.Request{Query: q.text, K: depth})
		if err != nil && !errors.Is(err, retrieval.ErrEmptyQuery) {
			return nil, fmt.Errorf("trainer/rerank: search %q: %w", q.text, err)
		}
		j := rerank.Judged{Query: q.text, Ideal: []int{}}
		for _, h := range hits {
			j.Texts = append(j.Texts, retrieval.RerankText(h))
			j.Scores = append(j.Scores, h.Score)
			j.Docs = append(j.Docs, h.DocumentID)
			j.Grades = append(j.Grades, q.grades[h.DocumentID])
		}
		for _, g := range q.grades {
			if g > 0 {
				j.Ideal = append(j.Ideal, g)
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// writeModel writes the model file into dir, whole or not at all.
func writeModel(dir string, m *rerank.Model) (string, error) {
	data, err := m.Marshal()
	if err != nil {
		return "", fmt.Errorf("%w: %w", trainer.ErrJobFailed, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("trainer/rerank: output dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("trainer/rerank: output dir: %w", err)
	}
	tmp, err := os.CreateTemp(abs, ".model-*.json")
	if err != nil {
		return "", fmt.Errorf("trainer/rerank: write model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("trainer/rerank: write model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("trainer/rerank: write model: %w", err)
	}
	path := filepath.Join(abs, ModelFile)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("trainer/rerank: write model: %w", err)
	}
	return path, nil
}
