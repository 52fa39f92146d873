package trainer

import (
	"fmt"

	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// Decisions of the evaluation gate.
const (
	Promote = "promoted" // the candidate serves now
	Reject  = "rejected" // it lost to the version in service
	Keep    = "kept"     // a candidate still: nothing to decide on; a person may promote it
)

// Defaults of Gate.
const (
	DefaultMargin         = 0.005
	DefaultMinTestQueries = 20
)

// Gate decides whether a candidate replaces the version in service: only
// when it scores better on the same evaluation by at least Margin.
//
// A reranker is judged on nDCG@10 over the held-out judgments: the
// executor scores the candidate ("ndcg@10") and the reranker in service
// ("serving_ndcg@10", the built-in when no trained version serves) on the
// same queries, so the two figures compare. An LLM is judged on
// groundedness ("groundedness", from twin eval answers, which a job reports
// in its metrics file) against the figure recorded for the version in
// service; without both figures it stays a candidate.
type Gate struct {
	Margin         float64 // 0: DefaultMargin
	MinTestQueries int     // a reranker evaluated on fewer stays a candidate; 0: DefaultMinTestQueries
}

// Verdict is the gate's decision and why.
type Verdict struct {
	Decision string
	Why      string
}

// Decide judges candidate against serving (nil when only the built-in
// model serves).
func (g Gate) Decide(candidate warehouse.ModelRecord, serving *warehouse.ModelRecord) Verdict {
	margin := g.Margin
	if margin <= 0 {
		margin = DefaultMargin
	}
	minQueries := g.MinTestQueries
	if minQueries <= 0 {
		minQueries = DefaultMinTestQueries
	}
	m := candidate.Metrics
	var score, baseline float64
	var metric string
	switch candidate.Name {
	case registry.Reranker:
		metric = "ndcg@10"
		var ok1, ok2 bool
		score, ok1 = m[metric]
		baseline, ok2 = m["serving_ndcg@10"]
		if !ok1 || !ok2 {
			return Verdict{Keep, "the job reported no nDCG@10 of the candidate and of the reranker in service"}
		}
		if n := int(m["test_queries"]); n < minQueries {
			return Verdict{Keep, fmt.Sprintf("evaluated on %d held-out queries, fewer than the %d needed to judge", n, minQueries)}
		}
	default:
		metric = "groundedness"
		var ok bool
		if score, ok = m[metric]; !ok {
			return Verdict{Keep, "the job reported no groundedness (run twin eval answers against it, or promote it by hand)"}
		}
		if serving == nil {
			return Verdict{Keep, "no trained version serves to compare with; promote it by hand"}
		}
		if baseline, ok = serving.Metrics[metric]; !ok {
			return Verdict{Keep, "the version in service has no groundedness on record"}
		}
	}
	if score >= baseline+margin {
		return Verdict{Promote, fmt.Sprintf("%s %.4f beats %.4f in service by at least %.4f", metric, score, baseline, margin)}
	}
	return Verdict{Reject, fmt.Sprintf("%s %.4f does not beat %.4f in service by %.4f", metric, score, baseline, margin)}
}
