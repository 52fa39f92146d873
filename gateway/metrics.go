package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	messages    *prometheus.CounterVec   // direction, type
	refused     *prometheus.CounterVec   // reason
	requests    *prometheus.CounterVec   // route, method, code
	took        *prometheus.HistogramVec // route, method
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
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twin_http_requests_total",
			Help: "Requests to the /v1 API, by route (the registered pattern), method and status code.",
		}, []string{"route", "method", "code"}),
		took: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twin_http_request_seconds",
			Help:    "Time the /v1 API took to answer a request, by route and method; a WebSocket's until its handshake.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	if reg == nil {
		return m
	}
	m.connections = register(reg, m.connections)
	m.messages = register(reg, m.messages)
	m.refused = register(reg, m.refused)
	m.requests = register(reg, m.requests)
	m.took = register(reg, m.took)
	return m
}

// instrument counts and times the requests of h, registered under pattern
// ("METHOD /path"). The route label is the pattern, never the request's
// path, so ids in paths (/v1/docs/{id}) add no series.
func (m *gatewayMetrics) instrument(pattern string, h http.Handler) http.Handler {
	method, route, ok := strings.Cut(pattern, " ")
	if !ok {
		method, route = "", pattern
	}
	requests := m.requests.MustCurryWith(prometheus.Labels{"route": route, "method": method})
	took := m.took.WithLabelValues(route, method)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, start: time.Now()}
		// A WebSocket is counted at its handshake: its handler returns when
		// the connection closes, which says nothing of how fast the API is.
		sw.upgraded = func() {
			took.Observe(time.Since(sw.start).Seconds())
			requests.WithLabelValues(strconv.Itoa(http.StatusSwitchingProtocols)).Inc()
		}
		h.ServeHTTP(sw, r)
		if sw.code == http.StatusSwitchingProtocols {
			return
		}
		took.Observe(time.Since(sw.start).Seconds())
		code := sw.code
		if code == 0 {
			code = http.StatusOK // nothing written: net/http answers 200
		}
		requests.WithLabelValues(strconv.Itoa(code)).Inc()
	})
}

// statusWriter remembers the status code a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	start    time.Time
	code     int
	upgraded func()
}

func (w *statusWriter) WriteHeader(code int) {
	// Informational answers (100, 103) come before the real one; 101 ends
	// the HTTP exchange.
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
		if code == http.StatusSwitchingProtocols {
			w.upgraded()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// connection's own writer (Flush, Hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
