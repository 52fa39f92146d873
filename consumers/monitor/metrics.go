package monitor

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	twinmetrics "github.com/twin-llm/twin/internal/metrics"
	"github.com/twin-llm/twin/schemas"
)

// maxLabelValues bounds the distinct values of each label fed from a trace
// (step names, models, event kinds): they come from another process, and
// one that put ids in them would otherwise grow the series without end.
const maxLabelValues = 64

// maxLabelLen bounds one label value, in bytes.
const maxLabelLen = 64

// Values of the label rating of twin_feedback_total, and direction of
// twin_llm_tokens_total.
const (
	ratingUp     = "up"
	ratingDown   = "down"
	directionIn  = "in"
	directionOut = "out"
	labelOther   = "other"   // a value past maxLabelValues
	labelUnknown = "unknown" // an empty value
)

// msToSeconds turns a trace's milliseconds into Prometheus's seconds.
const msToSeconds = 1e-3

// metrics are the monitor's Prometheus metrics.
type metrics struct {
	step       prometheus.ObserverVec // step
	firstToken prometheus.Observer
	chat       prometheus.Observer
	tokens     *prometheus.CounterVec // model, direction
	guardrail  *prometheus.CounterVec // kind
	stepErrors *prometheus.CounterVec // step
	feedback   *prometheus.CounterVec // rating
	judgments  *prometheus.CounterVec // source
	expired    prometheus.Counter

	steps, models, kinds *labelValues
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	// The chat steps have their own histogram: twin_stage_seconds is the
	// consumers' (package streams), and one label mixing consumer names
	// with step names would add up things that do not add up.
	step := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "twin_chat_step_seconds",
		Help:    "Time one step of the chat pipeline (self_query, search, rerank, generate, ...) took, per step, from the prompt traces.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"step"})
	firstToken := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "twin_chat_first_token_seconds",
		Help:    "From a chat request's arrival at the rag worker to its first answer token, per request with an answer.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 20, 30, 60},
	})
	chat := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "twin_chat_seconds",
		Help:    "The rag worker's whole time on a chat request, per request.",
		Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 10, 20, 30, 60, 120},
	})
	tokens := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_llm_tokens_total",
		Help: "Tokens sent to (in) and received from (out) a model by the chat pipeline, per model, from the prompt traces.",
	}, []string{"model", "direction"})
	guardrail := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_guardrail_events_total",
		Help: "Guardrail events of chat requests (refusal, redaction, ...), by kind, from the prompt traces.",
	}, []string{"kind"})
	stepErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_chat_step_errors_total",
		Help: "Chat pipeline steps that failed, by step, from the prompt traces.",
	}, []string{"step"})
	feedback := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_feedback_total",
		Help: "Ratings of answers, up or down.",
	}, []string{"rating"})
	judgments := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_feedback_judgments_total",
		Help: "Relevance judgments stored, by source: user (a cited source marked helpful or not) or import (twin feedback import). A redelivered or re-imported one is not counted again.",
	}, []string{"source"})
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "twin_traces_expired_total",
		Help: "Prompt traces deleted by the retention sweep.",
	})

	m := &metrics{steps: newLabelValues(), models: newLabelValues(), kinds: newLabelValues()}
	var err error
	if m.step, err = twinmetrics.Register(reg, step); err != nil {
		return nil, err
	}
	if m.firstToken, err = twinmetrics.Register(reg, firstToken); err != nil {
		return nil, err
	}
	if m.chat, err = twinmetrics.Register(reg, chat); err != nil {
		return nil, err
	}
	if m.tokens, err = twinmetrics.Register(reg, tokens); err != nil {
		return nil, err
	}
	if m.guardrail, err = twinmetrics.Register(reg, guardrail); err != nil {
		return nil, err
	}
	if m.stepErrors, err = twinmetrics.Register(reg, stepErrors); err != nil {
		return nil, err
	}
	if m.feedback, err = twinmetrics.Register(reg, feedback); err != nil {
		return nil, err
	}
	if m.judgments, err = twinmetrics.Register(reg, judgments); err != nil {
		return nil, err
	}
	if m.expired, err = twinmetrics.Register(reg, expired); err != nil {
		return nil, err
	}
	// Both ratings show from the start, so that a rate of down votes is
	// defined before the first one.
	m.feedback.WithLabelValues(ratingUp)
	m.feedback.WithLabelValues(ratingDown)
	m.judgments.WithLabelValues(schemas.JudgmentUser)
	m.judgments.WithLabelValues(schemas.JudgmentImport)
	return m, nil
}

// observeTrace records one trace, which the store has just taken for the
// first time. Zero durations are absent ones (omitempty), not instant
// steps: a request refused before its first token has no first token time.
func (m *metrics) observeTrace(t *schemas.Trace) {
	for _, s := range t.Steps {
		step := m.steps.value(s.Name)
		if s.LatencyMS > 0 {
			m.step.WithLabelValues(step).Observe(s.LatencyMS * msToSeconds)
		}
		if s.Error != "" {
			m.stepErrors.WithLabelValues(step).Inc()
		}
		// Only the steps that called a model: the others' token counts
		// (the prompt builder's estimate, say) are not tokens a model
		// was sent, and would count the generation's input twice.
		if s.Model == "" {
			continue
		}
		model := m.models.value(s.Model)
		if s.TokensIn > 0 {
			m.tokens.WithLabelValues(model, directionIn).Add(float64(s.TokensIn))
		}
		if s.TokensOut > 0 {
			m.tokens.WithLabelValues(model, directionOut).Add(float64(s.TokensOut))
		}
	}
	for _, e := range t.Events {
		m.guardrail.WithLabelValues(m.kinds.value(e.Kind)).Inc()
	}
	if t.FirstTokenMS > 0 {
		m.firstToken.Observe(t.FirstTokenMS * msToSeconds)
	}
	if t.TotalMS > 0 {
		m.chat.Observe(t.TotalMS * msToSeconds)
	}
}

func (m *metrics) observeFeedback(rating int) {
	switch rating {
	case schemas.RatingUp:
		m.feedback.WithLabelValues(ratingUp).Inc()
	case schemas.RatingDown:
		m.feedback.WithLabelValues(ratingDown).Inc()
	}
}

// observeJudgments counts n new judgments of source. The source label
// takes only the two values of the schema's enum, "other" for anything
// else, so a publisher cannot grow its series.
func (m *metrics) observeJudgments(source string, n int) {
	if n <= 0 {
		return
	}
	switch source {
	case schemas.JudgmentUser, schemas.JudgmentImport:
	default:
		source = labelOther
	}
	m.judgments.WithLabelValues(source).Add(float64(n))
}

// labelValues admits at most maxLabelValues distinct values of one label;
// later newcomers are counted as "other".
type labelValues struct {
	mu   sync.Mutex // guards seen
	seen map[string]struct{}
}

func newLabelValues() *labelValues { return &labelValues{seen: make(map[string]struct{})} }

// value is the label value to use for s: s made valid UTF-8 (the client
// panics on anything else) and short, "unknown" when empty, "other" once
// the label has seen enough distinct values.
func (l *labelValues) value(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if s == "" {
		return labelUnknown
	}
	if len(s) > maxLabelLen {
		cut := maxLabelLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[s]; ok {
		return s
	}
	if len(l.seen) >= maxLabelValues {
		return labelOther
	}
	l.seen[s] = struct{}{}
	return s
}
