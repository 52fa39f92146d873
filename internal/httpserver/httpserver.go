// Package httpserver is the HTTP server every twin process runs: /metrics,
// /healthz and /readyz, plus whatever routes the components add (the
// gateway's API and web page).
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Check reports whether one dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Server is a net/http server with the operational endpoints built in.
type Server struct {
	mux *http.ServeMux
	srv *http.Server
	log zerolog.Logger

	checksMu sync.Mutex // guards checks
	checks   map[string]Check
}

// Option configures New.
type Option func(*options)

type options struct {
	metricsGuard func(http.Handler) http.Handler
	readTimeout  time.Duration
}

// DefaultReadTimeout bounds how long a client may take to send one
// request's body. Without it a client that drips a body holds a
// goroutine and its buffers for as long as it likes.
const DefaultReadTimeout = 30 * time.Second

// ReadTimeout replaces DefaultReadTimeout.
func ReadTimeout(d time.Duration) Option {
	return func(o *options) { o.readTimeout = d }
}

// MetricsGuard wraps /metrics with guard, such as the API's
// authentication: the metrics name streams, consumers and routes, and
// their scrape costs the process work. /healthz and /readyz stay open, for
// load balancers and orchestrators that present no token.
func MetricsGuard(guard func(http.Handler) http.Handler) Option {
	return func(o *options) { o.metricsGuard = guard }
}

// New returns a server exposing reg on /metrics.
func New(reg *prometheus.Registry, log zerolog.Logger, opts ...Option) *Server {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.readTimeout <= 0 {
		o.readTimeout = DefaultReadTimeout
	}
	s := &Server{mux: http.NewServeMux(), log: log, checks: map[string]Check{}}
	if reg != nil {
		var metrics http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
		if o.metricsGuard != nil {
			metrics = o.metricsGuard(metrics)
		}
		s.mux.Handle("GET /metrics", metrics)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{
		Handler:           readDeadline(s.mux, o.readTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return s
}

// readDeadline bounds the reading of each request that is not a
// WebSocket upgrade. http.Server's own ReadTimeout cannot do it: it also
// stays on a hijacked connection, and would cut every chat after d.
func readDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			// Fails only on writers that cannot set deadlines (tests'
			// recorders), where there is no connection to hold.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// Handle registers h for pattern (net/http ServeMux patterns, methods
// included).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the server's whole handler, for tests that serve it without
// a listener.
func (s *Server) Handler() http.Handler { return s.mux }

// AddCheck adds a readiness check: /readyz answers 200 only when every
// check passes.
func (s *Server) AddCheck(name string, c Check) {
	s.checksMu.Lock()
	defer s.checksMu.Unlock()
	s.checks[name] = c
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.checksMu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make([]Check, len(names))
	slices.Sort(names)
	for i, n := range names {
		checks[i] = s.checks[n]
	}
	s.checksMu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := map[string]string{}
	for i, c := range checks {
		if err := c(ctx); err != nil {
			failed[names[i]] = err.Error()
		}
	}
	if len(failed) > 0 {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": names})
}

// Listen binds addr and serves in the background until Shutdown. It returns
// the bound address (useful with port 0).
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("http server stopped")
		}
	}()
	return ln.Addr(), nil
}

// Shutdown stops accepting connections and waits for active requests,
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// WriteJSON writes v as the JSON response with status. API answers hold
// the author's documents and traces: no shared cache may keep them, and
// no browser may read them as anything but JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes {"error": msg} with status: every 4xx and 5xx of twin
// says what went wrong in this shape.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}
