// Package gateway is twin's public HTTP interface: the REST API and, with
// later components, the WebSocket chat and the web page. It is stateless;
// any number of replicas can serve the same system.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/warehouse"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/streams"
)

// Config is what the gateway serves from. Crawl, Store and Search may be
// nil: their routes then answer 503.
type Config struct {
	JS        jetstream.JetStream
	Log       zerolog.Logger
	Crawl     *crawl.Publisher
	Store     warehouse.Store
	Search    *retrieval.Searcher
	Publisher *streams.Publisher
}

// Gateway serves the API of one system.
type Gateway struct {
	cfg Config
}

// New returns a gateway.
func New(cfg Config) *Gateway { return &Gateway{cfg: cfg} }

// maxBody bounds every request body the API reads.
const maxBody = 1 << 20

// Register adds the gateway's routes to srv.
func (g *Gateway) Register(srv *httpserver.Server) {
	srv.Handle("GET /v1/status", http.HandlerFunc(g.status))
	srv.Handle("POST /v1/crawl", http.HandlerFunc(g.crawl))
	srv.Handle("GET /v1/docs", http.HandlerFunc(g.listDocs))
	srv.Handle("GET /v1/docs/{id}", http.HandlerFunc(g.getDoc))
	srv.Handle("DELETE /v1/docs/{id}", http.HandlerFunc(g.deleteDoc))
	srv.Handle("GET /v1/search", http.HandlerFunc(g.search))
	srv.Handle("POST /v1/reindex", http.HandlerFunc(g.reindex))
}

// status answers GET /v1/status: every stream and consumer with its lag,
// the JSON that `twin status --json` prints.
func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := streams.ReadStatus(ctx, g.cfg.JS)
	if err != nil {
		g.cfg.Log.Warn().Err(err).Msg("status")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "cannot read stream status: "+err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, st)
}

// CrawlRequest is the body of POST /v1/crawl.
type CrawlRequest struct {
	URLs   []string `json:"urls"`
	Author string   `json:"author"`
	// Refresh crawls again a URL queued within the last 10 minutes.
	Refresh bool `json:"refresh,omitempty"`
}

// crawl answers POST /v1/crawl: 202 with the accepted and rejected URLs,
// or 400 when none is acceptable.
func (g *Gateway) crawl(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Crawl == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "crawling is not available on this gateway")
		return
	}
	var req CrawlRequest
	if err := decodeJSON(w, r, &req); err != nil {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.URLs) == 0 {
		httpserver.WriteError(w, http.StatusBadRequest, `"urls" must list at least one URL`)
		return
	}
	res, err := g.cfg.Crawl.Submit(r.Context(), req.URLs, crawl.Options{Author: req.Author, Source: "http", Refresh: req.Refresh})
	switch {
	case errors.Is(err, crawl.ErrTooMany):
		httpserver.WriteError(w, http.StatusRequestEntityTooLarge, err.Error())
	case err != nil:
		g.cfg.Log.Error().Err(err).Msg("crawl submit")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "could not queue the URLs: "+err.Error())
	case len(res.Accepted) == 0:
		httpserver.WriteJSON(w, http.StatusBadRequest, struct {
			Error string `json:"error"`
			crawl.Result
		}{"no acceptable URL", res})
	default:
		httpserver.WriteJSON(w, http.StatusAccepted, res)
	}
}

// decodeJSON reads one JSON object from a bounded body, refusing unknown
// fields and trailing data, with an error that says what is wrong. The
// content type is not checked: `curl -d` sends a form type with JSON.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("body over %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return errors.New("empty body: send a JSON object")
		}
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one value")
	}
	return nil
}
