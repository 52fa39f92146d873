package gateway

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestV1RequestsAreCountedAndTimedByRoute: every /v1 request counts under
// its registered pattern, method and status (refusals included), never
// under its raw path; a WebSocket counts at its handshake, while open.
func TestV1RequestsAreCountedAndTimedByRoute(t *testing.T) {
	t.Parallel()
	st := startStack(t, Config{Auth: AuthConfig{Tokens: []string{testToken}}}, nil)

	for _, r := range []struct {
		method, path, token string
		want                int
	}{
		{http.MethodGet, "/v1/status", testToken, http.StatusOK},
		{http.MethodGet, "/v1/status", testToken, http.StatusOK},
		{http.MethodGet, "/v1/status", "", http.StatusUnauthorized},
		// No warehouse on this gateway: two ids, one route.
		{http.MethodGet, "/v1/docs/a", testToken, http.StatusServiceUnavailable},
		{http.MethodGet, "/v1/docs/b", testToken, http.StatusServiceUnavailable},
	} {
		if resp, body := st.do(t, r.method, r.path, r.token, ""); resp.StatusCode != r.want {
			t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, resp.StatusCode, body, r.want)
		}
	}
	st.dial(t, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + testToken}}})

	m := st.g.metrics
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/v1/status", "GET", "200", 2},
		{"/v1/status", "GET", "401", 1},
		{"/v1/docs/{id}", "GET", "503", 2},
		{"/v1/chat", "GET", "101", 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.route, c.method, c.code)); got != c.want {
			t.Errorf("twin_http_requests_total{route=%q,method=%q,code=%q} = %v, want %v", c.route, c.method, c.code, got, c.want)
		}
	}
	// Each route's series, and nothing named after a raw path.
	if n := testutil.CollectAndCount(m.requests); n != 4 {
		t.Errorf("twin_http_requests_total has %d series, want the 4 above", n)
	}
	// The histogram has a series per registered route from the start.
	timed := map[string]uint64{}
	families, err := st.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "twin_http_request_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "route" {
					timed[l.GetValue()] += s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	for route, want := range map[string]uint64{"/v1/status": 3, "/v1/docs/{id}": 2, "/v1/chat": 1, "/v1/search": 0} {
		if got, ok := timed[route]; !ok || got != want {
			t.Errorf("twin_http_request_seconds{route=%q} timed %d requests (series present: %v), want %d", route, got, ok, want)
		}
	}
	// Every route has its series from the start, and a path never becomes
	// a route.
	for _, route := range []string{"/v1/status", "/v1/crawl", "/v1/docs", "/v1/docs/{id}", "/v1/search", "/v1/reindex",
		"/v1/feedback", "/v1/authors", "/v1/chat", "/v1/traces", "/v1/traces/{id}", "/v1/datasets"} {
		if _, ok := timed[route]; !ok {
			t.Errorf("twin_http_request_seconds has no series for %s: %v", route, timed)
		}
	}
	if _, ok := timed["/v1/docs/a"]; ok {
		t.Errorf("twin_http_request_seconds routes %v: a path became a route", timed)
	}
}
