package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServesPageWithContentTypeAndCSP(t *testing.T) {
	rec := get(t, Handler(), http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") == "" {
		t.Errorf("no cache headers: ETag %q, Cache-Control %q", rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
	}
	body := rec.Body.String()
	for _, id := range []string{`id="question"`, `id="send"`, `id="author"`, `id="status"`, `name="viewport"`, `aria-live=`} {
		if !strings.Contains(body, id) {
			t.Errorf("page lacks %s", id)
		}
	}
}

func TestRevalidatesWithETag(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/app.js", nil)
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("GET /app.js = %d with ETag %q, want 200 with an ETag", first.Code, etag)
	}
	again := get(t, h, http.MethodGet, "/app.js", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Errorf("GET /app.js with If-None-Match %s = %d, want 304", etag, again.Code)
	}
}

func TestServesEveryAssetThePageLinks(t *testing.T) {
	h := Handler()
	page := get(t, h, http.MethodGet, "/", nil).Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatal("the page links no assets")
	}
	want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, m := range refs {
		ref := m[1]
		// The page must work with no network: nothing from another origin.
		if strings.Contains(ref, "//") || strings.Contains(ref, ":") {
			t.Errorf("the page links %q, which is not on the gateway", ref)
			continue
		}
		rec := get(t, h, http.MethodGet, "/"+ref, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET /%s = %d, want 200", ref, rec.Code)
			continue
		}
		for ext, ct := range want {
			if strings.HasSuffix(ref, ext) && rec.Header().Get("Content-Type") != ct {
				t.Errorf("GET /%s Content-Type = %q, want %q", ref, rec.Header().Get("Content-Type"), ct)
			}
		}
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/nope.js", "/static/app.js", "/v1/chat", "/app.js/", "/../web.go"} {
		if rec := get(t, h, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}

func TestRefusesWritesWith405(t *testing.T) {
	rec := get(t, Handler(), http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d with Allow %q, want 405 with Allow: GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}
