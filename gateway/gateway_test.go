package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/streams"
	"github.com/twin-llm/twin/streams/streamstest"
)

// FuzzCrawlBody sends arbitrary bodies to POST /v1/crawl on a real stack:
// the answer is always a 202 or a 4xx with a JSON error, never a 5xx or a
// panic.
func FuzzCrawlBody(f *testing.F) {
	js := streamstest.Start(f)
	hs := httpserver.New(nil, zerolog.Nop())
	// The fuzzer's requests come from httptest's 192.0.2.1, not loopback.
	New(Config{JS: js, Log: zerolog.Nop(), Crawl: crawl.NewPublisher(streams.NewPublisher(js), false), Auth: AuthConfig{AllowOpen: true}}).Register(hs)
	handler := hs.Handler()

	for _, seed := range []string{
		`{"urls":["https://example.com/a"],"author":"Ann"}`,
		`{"urls":["ftp://x","http://[::1]:80/"]}`,
		`{"urls":[""]}`, `{"urls":null}`, `{}`, `[]`, `null`, `{"urls":["` + strings.Repeat("a", 3000) + `"]}`,
		`{"urls":["http://example.com/%zz"],"refresh":true}`, "\xff\xfe", `{"urls":["https://例え.jp/パス"]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/crawl", strings.NewReader(body)))
		if rec.Code != http.StatusAccepted && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("POST %q = %d %s", body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("POST %q answered %q", body, rec.Header().Get("Content-Type"))
		}
	})
}
