package rerank

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ModelFormat is the format of the learned reranker's model file: a
// linear model over named features, plus boosted regression trees.
const ModelFormat = "twin-rerank/v1"

// maxModelBytes bounds a model file: the default model (100 trees of
// depth 8) takes about 1.2 MB, the largest the trainer accepts (1,000
// full trees of depth 8, 511 nodes each) about 20 MB.
const maxModelBytes = 32 << 20

// ErrModel is a model file that cannot be served.
var ErrModel = errors.New("rerank: invalid model")

// ErrJudged is training or evaluation data whose parts do not line up.
var ErrJudged = errors.New("rerank: invalid judged query")

// Model is a learned reranker as its file holds it. A candidate's
// features x, named in Features (see AllFeatures), are standardized,
// z[f] = (x[f] − Mean[f])/Scale[f], and its score is
// Σ Weights[f]·z[f] plus the value of every tree in Trees at z. The file
// is JSON; ParseModel reads and validates it, Marshal writes it.
type Model struct {
	Format   string    `json:"format"`
	Features []string  `json:"features"`
	Mean     []float64 `json:"mean"`
	Scale    []float64 `json:"scale"`
	Weights  []float64 `json:"weights"`
	Trees    []Tree    `json:"trees,omitempty"`
	Training Training  `json:"training"`
}

// Training says how a model was fitted; it is informative only.
type Training struct {
	Objective    string    `json:"objective,omitempty"`
	Queries      int       `json:"queries,omitempty"`
	Candidates   int       `json:"candidates,omitempty"`
	Pairs        int       `json:"pairs,omitempty"`
	Epochs       int       `json:"epochs,omitempty"`
	LearningRate float64   `json:"learning_rate,omitempty"`
	L2           float64   `json:"l2,omitempty"`
	TruncateAt   int       `json:"truncate_at,omitempty"`
	Trees        int       `json:"trees,omitempty"`
	Depth        int       `json:"depth,omitempty"`
	Shrinkage    float64   `json:"shrinkage,omitempty"`
	MinLeaf      int       `json:"min_leaf,omitempty"`
	CVFolds      int       `json:"cv_folds,omitempty"`
	CVNDCG       float64   `json:"cv_ndcg,omitempty"`
	TrainNDCG    float64   `json:"train_ndcg@10,omitempty"`
	TestNDCG     float64   `json:"test_ndcg@10,omitempty"`
	TestQueries  int       `json:"test_queries,omitempty"`
	Seed         uint64    `json:"seed,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
}

// ParseModel reads and validates a model file: a known format, known and
// distinct feature names, one finite mean, positive finite scale and
// finite weight per feature, well-formed trees, nothing else at the top
// level. Any failure
// matches ErrModel.
func ParseModel(data []byte) (*Model, error) {
	if len(data) > maxModelBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrModel, len(data), maxModelBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the model", ErrModel)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// LoadModel reads and validates the model file at path, or at a file://
// URI as the rerank trainer reports its artifact.
func LoadModel(path string) (*Model, error) {
	path = strings.TrimPrefix(path, "file://")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rerank: load model: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rerank: load model: %w", err)
	}
	m, err := ParseModel(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Validate checks that m can be served; errors match ErrModel.
func (m *Model) Validate() error {
	if m.Format != ModelFormat {
		return fmt.Errorf("%w: format %q, want %q", ErrModel, m.Format, ModelFormat)
	}
	n := len(m.Features)
	if n == 0 {
		return fmt.Errorf("%w: no features", ErrModel)
	}
	if len(m.Mean) != n || len(m.Scale) != n || len(m.Weights) != n {
		return fmt.Errorf("%w: %d features with %d means, %d scales and %d weights", ErrModel, n, len(m.Mean), len(m.Scale), len(m.Weights))
	}
	known := featureIndex()
	seen := map[string]bool{}
	for i, f := range m.Features {
		if _, ok := known[f]; !ok {
			return fmt.Errorf("%w: unknown feature %q", ErrModel, f)
		}
		if seen[f] {
			return fmt.Errorf("%w: feature %q twice", ErrModel, f)
		}
		seen[f] = true
		if !isFinite(m.Mean[i]) || !isFinite(m.Weights[i]) {
			return fmt.Errorf("%w: feature %q has a mean or weight that is not a finite number", ErrModel, f)
		}
		if !isFinite(m.Scale[i]) || m.Scale[i] <= 0 {
			return fmt.Errorf("%w: feature %q has scale %v, want a positive number", ErrModel, f, m.Scale[i])
		}
	}
	return validateTrees(m.Trees, n)
}

// Marshal returns the model file.
func (m *Model) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rerank: marshal model: %w", err)
	}
	if len(b) >= maxModelBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than ParseModel reads (%d)", ErrModel, len(b), maxModelBytes)
	}
	return append(b, '\n'), nil
}

// NeedsScores reports whether the model reads the retrieval scores.
func (m *Model) NeedsScores() bool {
	for _, f := range m.Features {
		if needsScores(f) {
			return true
		}
	}
	return false
}

// linear is the linear part of the score of a standardized vector.
func (m *Model) linear(z []float64) float64 {
	var s float64
	for f, w := range m.Weights {
		s += w * z[f]
	}
	return s
}

// ID is a short digest of what the model computes (features,
// normalization and weights; not the training summary).
func (m *Model) ID() string {
	h := sha256.New()
	b, _ := json.Marshal([]any{m.Format, m.Features, m.Mean, m.Scale, m.Weights, m.Trees})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:12]
}
