package streams

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the runtime's own Prometheus metrics. Lag gauges come from the
// LagCollector, which reads them from the server.
type Metrics struct {
	handled  *prometheus.CounterVec   // consumer, outcome
	stage    *prometheus.HistogramVec // stage
	dlq      *prometheus.CounterVec   // consumer, reason
	inFlight *prometheus.GaugeVec     // consumer
}

// Outcomes of one delivery, the "outcome" label of twin_consumer_messages_total.
const (
	outcomeAck      = "ack"
	outcomeRetry    = "retry"
	outcomeDead     = "dead"
	outcomeReleased = "released" // given back unhandled at shutdown
)

// NewMetrics registers the runtime metrics on reg. A nil reg gives working
// metrics that nobody scrapes, which is what most tests want.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_consumer_messages_total",
			Help: "Deliveries handled by a consumer, by outcome: ack, retry (nak with delay), dead (dead-lettered), released (given back at shutdown).",
		}, []string{"consumer", "outcome"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twin_stage_seconds",
			Help:    "Time a consumer's handler spent on one message or batch; the stage is the consumer's durable name.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"stage"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_dlq_messages_total",
			Help: "Messages written to the dead-letter queue, by consumer and reason.",
		}, []string{"consumer", "reason"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twin_consumer_in_flight_messages",
			Help: "Messages a consumer's handlers are working on now.",
		}, []string{"consumer"}),
	}
	if reg != nil {
		reg.MustRegister(m.handled, m.stage, m.dlq, m.inFlight)
	}
	return m
}
