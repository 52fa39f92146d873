package gateway

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of twin_gateway_refused_total: a fixed set, so the label's
// cardinality does not depend on what clients send.
const (
	reasonUnauthorized = "unauthorized"    // 401 on a /v1 route
	reasonMaxConns     = "max_connections" // WebSocket refused: ChatConfig.MaxConns reached
	reasonShutdown     = "shutdown"        // WebSocket refused: the gateway is shutting down
	reasonHandshake    = "handshake"       // not a valid WebSocket handshake, or a foreign origin
	reasonFrameTooBig  = "frame_too_big"   // a frame over ChatConfig.MaxFrameBytes: closed with 1009
	reasonInvalid      = "invalid"         // a frame that is not a valid client message
	reasonTooLong      = "too_long"        // a query or comment over its limit
	reasonInFlight     = "in_flight"       // over ChatConfig.MaxInFlight
	reasonRateConn     = "rate_connection" // over the connection's ask rate
	reasonRateIP       = "rate_ip"         // over the address's ask rate
	reasonSlowClient   = "slow_client"     // send queue full or a write timed out: closed
	reasonDeadPeer     = "dead_peer"       // no pong in time: closed
)

// gatewayMetrics are the gateway's Prometheus metrics.
type gatewayMetrics struct {
	connections prometheus.Gauge
	messages    *prometheus.CounterVec // direction, type
	refused     *prometheus.CounterVec // reason
}

func newMetrics(reg prometheus.Registerer) *gatewayMetrics {
	m := &gatewayMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "twin_gateway_connections",
			Help: "Open chat WebSocket connections.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_gateway_messages_total",
			Help: "Chat WebSocket frames, by direction (in, out) and type.",
		}, []string{"direction", "type"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_gateway_refused_total",
			Help: "Requests, connections and chat frames the gateway refused, by reason.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m
	}
	m.connections = register(reg, m.connections)
	m.messages = register(reg, m.messages)
	m.refused = register(reg, m.refused)
	return m
}

// register registers c, or returns the collector already registered under
// its name: two gateways in one process (tests, or a restart of the
// component) share their metrics instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}

func (m *gatewayMetrics) refuse(reason string) { m.refused.WithLabelValues(reason).Inc() }

// in counts a received frame. Types outside the protocol count as
// "invalid", so clients cannot create label values.
func (m *gatewayMetrics) in(typ string) {
	switch typ {
	case MsgAsk, MsgResume, MsgFeedback:
	default:
		typ = "invalid"
	}
	m.messages.WithLabelValues("in", typ).Inc()
}

// out counts a sent frame; its type is always one of the gateway's own.
func (m *gatewayMetrics) out(typ string) { m.messages.WithLabelValues("out", typ).Inc() }
