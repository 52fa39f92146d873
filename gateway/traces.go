package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// Bounds of GET /v1/traces.
const (
	DefaultTraceListLimit = 20
	MaxTraceListLimit     = 100
	// traceTiesOverfetch is how many traces stored in the same millisecond
	// as a page's last one the next page can tell apart (see traceCursor).
	traceTiesOverfetch = 32
)

// TraceSummary is one trace in GET /v1/traces: enough to pick one to read.
type TraceSummary struct {
	TraceID      string    `json:"trace_id"`
	RequestID    string    `json:"request_id,omitempty"`
	Author       string    `json:"author,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	Query        string    `json:"query,omitempty"`
	Steps        int       `json:"steps"`
	Errors       int       `json:"errors,omitempty"` // steps that failed
	Events       []string  `json:"events,omitempty"` // kinds of guardrail events: refusal, redaction
	TotalMS      float64   `json:"total_ms,omitempty"`
	FirstTokenMS float64   `json:"first_token_ms,omitempty"`
	// Rating is the latest rating of the answer, 1 or -1; 0 when none.
	Rating int `json:"rating,omitempty"`
	// Ratings counts every rating given.
	Ratings int `json:"ratings,omitempty"`
}

// TraceList is the answer of GET /v1/traces. Next, when set, is the
// before= of the next (older) page.
type TraceList struct {
	Traces []TraceSummary `json:"traces"`
	Next   string         `json:"next,omitempty"`
}

// SummarizeTrace reads a stored trace's summary. A body that does not
// parse as a trace still gives the stored fields.
func SummarizeTrace(rec warehouse.TraceRecord) TraceSummary {
	s := TraceSummary{TraceID: rec.TraceID, RequestID: rec.RequestID, Author: rec.Author, CreatedAt: rec.CreatedAt,
		Ratings: len(rec.Feedback)}
	if n := len(rec.Feedback); n > 0 {
		s.Rating = rec.Feedback[n-1].Rating
	}
	var t schemas.Trace
	if json.Unmarshal(rec.Trace, &t) != nil {
		return s
	}
	s.Query, s.Steps, s.TotalMS, s.FirstTokenMS = t.Query, len(t.Steps), t.TotalMS, t.FirstTokenMS
	for _, st := range t.Steps {
		if st.Error != "" {
			s.Errors++
		}
	}
	for _, e := range t.Events {
		if !slices.Contains(s.Events, e.Kind) {
			s.Events = append(s.Events, e.Kind)
		}
	}
	return s
}

// traceCursor is a position in the newest-first listing: the time and id
// of the last trace of a page. The store pages by time alone, so the next
// page asks for the traces up to that millisecond included and drops those
// at or before the cursor; up to traceTiesOverfetch traces sharing that
// millisecond are told apart that way.
type traceCursor struct {
	ms int64
	id string
}

func (c traceCursor) String() string { return strconv.FormatInt(c.ms, 10) + ":" + c.id }

func parseTraceCursor(s string) (traceCursor, bool) {
	ms, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || id == "" || len(id) > 256 {
		return traceCursor{}, false
	}
	return traceCursor{ms: n, id: id}, true
}

// after reports whether rec comes after c in the newest-first listing.
func (c traceCursor) after(rec warehouse.TraceRecord) bool {
	ms := rec.CreatedAt.UnixMilli()
	return ms < c.ms || ms == c.ms && rec.TraceID < c.id
}

// listTraces answers GET /v1/traces?author=&limit=&before=: the stored
// traces, newest first, summarized.
func (g *Gateway) listTraces(w http.ResponseWriter, r *http.Request) {
	if g.cfg.TraceStore == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the trace store is not available on this gateway")
		return
	}
	q := r.URL.Query()
	limit := DefaultTraceListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTraceListLimit {
			httpserver.WriteError(w, http.StatusBadRequest, "limit must be a number from 1 to "+strconv.Itoa(MaxTraceListLimit))
			return
		}
		limit = n
	}
	opts := warehouse.TraceListOptions{Author: q.Get("author"), Limit: limit + 1}
	var cur *traceCursor
	if v := q.Get("before"); v != "" {
		c, ok := parseTraceCursor(v)
		if !ok {
			httpserver.WriteError(w, http.StatusBadRequest, `before must be the "next" of a previous page`)
			return
		}
		cur = &c
		opts.Before = time.UnixMilli(c.ms + 1)
		opts.Limit += traceTiesOverfetch
	}
	recs, err := g.cfg.TraceStore.ListTraces(r.Context(), opts)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "trace store: "+err.Error())
		return
	}
	out := TraceList{Traces: []TraceSummary{}}
	for _, rec := range recs {
		if cur != nil && !cur.after(rec) {
			continue
		}
		if len(out.Traces) == limit {
			// One more exists: the page is full and has a next one.
			last := out.Traces[limit-1]
			out.Next = traceCursor{ms: last.CreatedAt.UnixMilli(), id: last.TraceID}.String()
			break
		}
		out.Traces = append(out.Traces, SummarizeTrace(rec))
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// JudgmentReader reads the judgments users gave the sources of one chat
// request; the warehouse's stores implement it.
type JudgmentReader interface {
	JudgmentsOfRequest(ctx context.Context, requestID string) ([]warehouse.JudgmentRecord, error)
}

// TraceDetail is the answer of GET /v1/traces/{id}: the stored trace with
// the ratings of its answer (Feedback) and the judgments of its sources.
type TraceDetail struct {
	warehouse.TraceRecord
	Judgments []warehouse.JudgmentRecord `json:"judgments"`
}

// getTrace answers GET /v1/traces/{id}: one trace, whole, with the ratings
// of its answer and the judgments of its sources. The id is a trace id or,
// failing that, a request id.
func (g *Gateway) getTrace(w http.ResponseWriter, r *http.Request) {
	if g.cfg.TraceStore == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the trace store is not available on this gateway")
		return
	}
	id := r.PathValue("id")
	rec, err := g.cfg.TraceStore.GetTrace(r.Context(), id)
	if errors.Is(err, warehouse.ErrNotFound) {
		rec, err = g.cfg.TraceStore.TraceByRequest(r.Context(), id)
	}
	switch {
	case errors.Is(err, warehouse.ErrNotFound):
		httpserver.WriteError(w, http.StatusNotFound, "no trace or request "+strconv.Quote(id))
	case err != nil:
		httpserver.WriteError(w, http.StatusServiceUnavailable, "trace store: "+err.Error())
	default:
		if rec.Feedback == nil {
			rec.Feedback = []warehouse.FeedbackRecord{}
		}
		out := TraceDetail{TraceRecord: rec, Judgments: []warehouse.JudgmentRecord{}}
		if g.cfg.Judgments != nil && rec.RequestID != "" {
			js, err := g.cfg.Judgments.JudgmentsOfRequest(r.Context(), rec.RequestID)
			if err != nil {
				httpserver.WriteError(w, http.StatusServiceUnavailable, "judgment store: "+err.Error())
				return
			}
			out.Judgments = js
		}
		httpserver.WriteJSON(w, http.StatusOK, out)
	}
}
