package policy

import (
	"github.com/prometheus/client_golang/prometheus"

	twinmetrics "github.com/twin-llm/twin/internal/metrics"
	"github.com/twin-llm/twin/schemas"
)

// Outcomes of a decision, the label outcome of twin_policy_decisions_total.
const (
	OutcomeFired      = "fired"       // a trigger was published
	OutcomeBelow      = "below"       // the value did not reach its threshold
	OutcomeFewSamples = "few_samples" // too few ratings, or recent chunks, to judge
	OutcomeNoSnapshot = "no_snapshot" // drift: nothing to compare against yet
	OutcomeCooldown   = "cooldown"    // over the threshold, but the kind fired within the cooldown
	OutcomeSettling   = "settling"    // over the threshold, but items still arrive: decided once they stop
	OutcomeError      = "error"       // over the threshold, but the trigger could not be published
)

// metrics are the policy's Prometheus metrics.
type metrics struct {
	decisions *prometheus.CounterVec // cause, outcome
	value     *prometheus.GaugeVec   // cause
	threshold *prometheus.GaugeVec   // cause
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_policy_decisions_total",
			Help: "Decisions of the retrain policy, by the rule (cause) that decided and the outcome (fired, below, few_samples, no_snapshot, cooldown, error).",
		}, []string{"cause", "outcome"}),
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twin_policy_value",
			Help: "The value each rule of the retrain policy last decided on: new documents, the negative-rating share, new judgments, the drift PSI.",
		}, []string{"cause"}),
		threshold: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twin_policy_threshold",
			Help: "The threshold of each rule of the retrain policy that is on.",
		}, []string{"cause"}),
	}
	var err error
	if m.decisions, err = twinmetrics.Register(reg, m.decisions); err != nil {
		return nil, err
	}
	if m.value, err = twinmetrics.Register(reg, m.value); err != nil {
		return nil, err
	}
	if m.threshold, err = twinmetrics.Register(reg, m.threshold); err != nil {
		return nil, err
	}
	return m, nil
}

// setThresholds shows the threshold of every rule that is on.
func (m *metrics) setThresholds(t Thresholds) {
	for cause, v := range map[string]float64{
		schemas.CauseDocuments: float64(t.NewDocuments), schemas.CauseRatings: t.NegativeRate,
		schemas.CauseJudgments: float64(t.NewJudgments), schemas.CauseDrift: t.DriftPSI,
	} {
		if v > 0 {
			m.threshold.WithLabelValues(cause).Set(v)
		}
	}
}
