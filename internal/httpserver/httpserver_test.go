package httpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestReadyzFollowsTheChecks(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "twin_test_total", Help: "x"}))
	s := New(reg, zerolog.Nop())
	var natsUp atomic.Bool
	s.AddCheck("nats", func(context.Context) error {
		if !natsUp.Load() {
			return errors.New("NATS connection is CONNECTING")
		}
		return nil
	})
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + addr.String()

	for _, c := range []struct {
		path     string
		up       bool
		code     int
		contains string
	}{
		{"/healthz", false, 200, "ok"},
		{"/readyz", false, 503, "NATS connection is CONNECTING"},
		{"/readyz", true, 200, "ready"},
		{"/metrics", true, 200, "twin_test_total 0"},
	} {
		natsUp.Store(c.up)
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s (nats up %v) = %d %q; want %d containing %q", c.path, c.up, resp.StatusCode, body, c.code, c.contains)
		}
	}
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
		}
	}
}

func TestMetricsGuardCoversMetricsOnly(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "twin_test_total", Help: "x"}))
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			WriteError(w, http.StatusUnauthorized, "no")
		})
	}
	for _, c := range []struct {
		name  string
		opts  []Option
		codes map[string]int
	}{
		{"guarded", []Option{MetricsGuard(deny)}, map[string]int{"/metrics": 401, "/healthz": 200, "/readyz": 200}},
		{"unguarded", nil, map[string]int{"/metrics": 200, "/healthz": 200, "/readyz": 200}},
	} {
		h := New(reg, zerolog.Nop(), c.opts...).Handler()
		for path, want := range c.codes {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("%s: GET %s = %d, want %d", c.name, path, rec.Code, want)
			}
		}
	}
}
