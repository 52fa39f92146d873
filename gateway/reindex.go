package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/cdc"
)

// ReindexRequest is the body of POST /v1/reindex.
type ReindexRequest struct {
	Author string `json:"author"` // only this author's documents; all when empty
}

// reindex answers POST /v1/reindex: every document (of an author) goes
// through the feature pipeline again, exactly as a change would, so the
// vector store is rebuilt by the same path that keeps it fresh.
func (g *Gateway) reindex(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Store == nil || g.cfg.Publisher == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "reindexing is not available on this gateway")
		return
	}
	var req ReindexRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			httpserver.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	var only func(*warehouse.Document) bool
	if req.Author != "" {
		id := warehouse.AuthorID(req.Author)
		only = func(d *warehouse.Document) bool { return d.AuthorID == id }
	}
	n, err := g.republish(r.Context(), g.cfg.Store, only)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusAccepted, map[string]int{"documents": n})
}

// republish sends the documents of pages (those only accepts) through the
// feature pipeline again, as a change would, a page at a time.
func (g *Gateway) republish(ctx context.Context, pages cdc.Pages, only func(*warehouse.Document) bool) (int, error) {
	n, err := cdc.Republish(ctx, g.cfg.Publisher, pages, cdc.RepublishOptions{Reason: "reindex", Only: only, OriginNow: true})
	if err != nil {
		return n, fmt.Errorf("publish: %w", err)
	}
	return n, nil
}
