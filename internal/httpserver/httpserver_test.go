package httpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

func TestSlowBodiesAreCutButUpgradesAreNot(t *testing.T) {
	t.Parallel()
	const limit = 200 * time.Millisecond
	s := New(nil, zerolog.Nop(), ReadTimeout(limit))
	s.Handle("POST /body", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			WriteError(w, http.StatusRequestTimeout, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	s.Handle("GET /upgrade", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		line, err := rw.ReadString('\n')
		if err != nil {
			t.Errorf("upgraded connection read: %v", err)
			return
		}
		_, _ = rw.WriteString("echo " + line)
		_ = rw.Flush()
	}))
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())

	t.Run("a dripped body is cut", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
		// Without the deadline the server waits for the other 90 bytes
		// forever; this client gives up far later than the limit.
		_ = conn.SetReadDeadline(time.Now().Add(20 * limit))
		reply, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server still waited for the body after %v", 20*limit)
		}
		if !strings.Contains(string(reply), "408") {
			t.Errorf("reply = %q, want a 408", reply)
		}
	})
	t.Run("an upgraded connection outlives the limit", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		// An idle chat is longer than the limit: only time can show
		// that the deadline did not follow the connection.
		time.Sleep(3 * limit)
		fmt.Fprintf(conn, "hello\n")
		_ = conn.SetReadDeadline(time.Now().Add(20 * limit))
		got, err := r.ReadString('\n')
		if err != nil || got != "echo hello\n" {
			t.Errorf("after %v idle: %q, %v", 3*limit, got, err)
		}
	})
}

func TestJSONIsNeitherCachedNorSniffed(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]int{"n": 1})
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Type": "application/json"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
