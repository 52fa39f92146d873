package gateway

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/twin-llm/twin/consumers/datasets"
	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
)

// DatasetBuilder builds a dataset on the server, where the warehouse is
// (a *datasets.Builder).
type DatasetBuilder interface {
	Build(ctx context.Context, req datasets.Request) (warehouse.DatasetRecord, error)
}

// DatasetRequest is the body of POST /v1/datasets.
type DatasetRequest struct {
	Kind   string `json:"kind"`
	Author string `json:"author,omitempty"`
	// Out is the directory the files are written to, on the server's
	// machine: an absolute path, new or empty (or holding an earlier
	// build's files).
	Out       string  `json:"out"`
	Seed      int64   `json:"seed,omitempty"`
	TestShare float64 `json:"test_share,omitempty"`
	Format    string  `json:"format,omitempty"`
}

// DatasetResponse is the answer of POST /v1/datasets: the record, and on
// 422 why nothing was kept.
type DatasetResponse struct {
	Dataset warehouse.DatasetRecord `json:"dataset"`
	Error   string                  `json:"error,omitempty"`
}

// registerDatasets adds the dataset routes.
func (g *Gateway) registerDatasets(api func(string, http.HandlerFunc)) {
	api("POST /v1/datasets", g.buildDataset)
	api("GET /v1/datasets", g.listDatasets)
}

// buildDataset answers POST /v1/datasets: it builds the dataset, writes
// its files to the request's directory and answers 201 with its record.
// The build runs within the request; a client waits for it.
func (g *Gateway) buildDataset(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Datasets == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "building datasets is not available on this gateway")
		return
	}
	var req DatasetRequest
	if err := decodeJSON(w, r, &req); err != nil {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Out == "" || !filepath.IsAbs(req.Out) {
		httpserver.WriteError(w, http.StatusBadRequest, `"out" must be an absolute directory path on the server`)
		return
	}
	rec, err := g.cfg.Datasets.Build(r.Context(), datasets.Request{Kind: req.Kind, Author: req.Author, Dir: req.Out,
		Seed: req.Seed, TestShare: req.TestShare, Format: req.Format})
	switch {
	case err == nil:
		httpserver.WriteJSON(w, http.StatusCreated, DatasetResponse{Dataset: rec})
	case errors.Is(err, datasets.ErrInvalid):
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, datasets.ErrEmpty):
		httpserver.WriteJSON(w, http.StatusUnprocessableEntity, DatasetResponse{Dataset: rec, Error: err.Error()})
	case errors.Is(err, datasets.ErrUnavailable):
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
	default:
		g.cfg.Log.Warn().Err(err).Str("kind", req.Kind).Msg("dataset build failed")
		httpserver.WriteError(w, http.StatusInternalServerError, "dataset build failed: "+err.Error())
	}
}

// listDatasets answers GET /v1/datasets?kind=&limit=: the records, newest
// first.
func (g *Gateway) listDatasets(w http.ResponseWriter, r *http.Request) {
	ds, ok := g.cfg.Store.(warehouse.DatasetStore)
	if !ok {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the warehouse is not available on this gateway")
		return
	}
	q := r.URL.Query()
	opts := warehouse.DatasetListOptions{Kind: q.Get("kind")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			httpserver.WriteError(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		opts.Limit = n
	}
	recs, err := ds.ListDatasets(r.Context(), opts)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"datasets": recs})
}
