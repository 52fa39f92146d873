package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams/streamstest"
)

// The operations page against a real JetStream server: GET /v1/status is
// what the gateway answers, ops.Read, over streams that hold real lag,
// dead letters, index events and training jobs.
func TestOpsPageShowsLagHistoryDeadLettersFreshnessAndJobs(t *testing.T) {
	js := streamstest.Start(t)
	ctx := context.Background()
	pub := func(subject string, data []byte) {
		t.Helper()
		if _, err := js.Publish(ctx, subject, data); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(m schemas.Message) []byte {
		t.Helper()
		data, err := schemas.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	pub(schemas.DLQ("featurizer"), []byte(`{"reason":"bad"}`))
	now := time.Now().UTC()
	pub(schemas.SubjectIndexEvents, msg(schemas.IndexEvent{DocumentID: "d1", Op: schemas.OpUpsert, Revision: 1,
		OriginTime: now.Add(-40 * time.Millisecond), IndexedAt: now}))
	pub(schemas.SubjectTrainingTriggers, msg(schemas.TrainingTrigger{ID: "t1", Kind: schemas.TrainingRerank,
		Cause: schemas.CauseManual, Reason: "by hand", CreatedAt: now}))
	pub(schemas.SubjectTrainingStatus, msg(schemas.TrainingStatus{TriggerID: "t1", JobID: "job-1", State: schemas.StateFailed,
		Message: "<img src=x onerror=window.pwned=1>"}))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := ops.Read(r.Context(), js)
		if err != nil {
			httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, st)
	})
	mux.Handle("GET /", Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := startBrowser(t)

	b.do(chromedp.Navigate(srv.URL + "/ops?interval=250"))
	b.waitFor("the dead letter, flagged", `document.querySelector('#dlq').textContent === '1' &&
		document.querySelector('#dlq-card').classList.contains('alert')`)
	b.waitFor("the freshness of the one indexed document", `document.querySelector('#freshness').textContent === 'p99 40 ms'`)
	b.waitFor("the failed job, its message as text", `(r => r && r.querySelector('.state').textContent === 'failed' &&
		r.lastChild.textContent === '<img src=x onerror=window.pwned=1>' && !document.querySelector('#training img') && !window.pwned)(
		document.querySelector('#training tr.job'))`)

	// Lag grows while the page watches: three CDC changes nobody consumes.
	for i := range 3 {
		pub(schemas.CDC("documents", "insert"), fmt.Appendf(nil, `{"i":%d}`, i))
	}
	b.waitFor("the featurizer's pending lag and a history line", `(r => r && r.querySelector('.pending').textContent === '3' &&
		r.querySelector('.spark polyline').getAttribute('points').split(' ').length >= 2)(
		document.querySelector('tr.consumer[data-key="CDC/featurizer"]'))`)
	b.waitFor("the stream's rate", `[...document.querySelectorAll('tr.stream .rate')].some(e => e.textContent.endsWith('/s'))`)
	b.clean()
}
