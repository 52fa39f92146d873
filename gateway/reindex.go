package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/warehouse"
	"github.com/twin-llm/twin/producers/cdc"
	"github.com/twin-llm/twin/streams"
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
	docs, err := g.documents(r.Context(), req.Author, warehouse.ListOptions{IncludeDeleted: true})
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	n, err := g.republish(r.Context(), docs)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusAccepted, map[string]int{"documents": n})
}

// republish sends docs through the feature pipeline again, as CDC events
// at their current revision. Whatever the index holds or believes it
// holds, each document's chunks end up as the warehouse has it: the
// embedder lets the warehouse's revision overrule its own record.
func (g *Gateway) republish(ctx context.Context, docs []warehouse.Document) (int, error) {
	// A reindex is a new request on purpose: its ids must not be folded
	// into the changes' own within the CDC dedup window.
	nonce := time.Now().UTC().Format(time.RFC3339Nano)
	outs := make([]streams.Out, 0, len(docs))
	for i := range docs {
		out, err := cdc.Event(&docs[i])
		if err != nil {
			return 0, err
		}
		out.MsgID = "reindex:" + nonce + ":" + out.MsgID
		out.OriginTime = time.Now()
		outs = append(outs, out)
	}
	if _, err := g.cfg.Publisher.PublishBatch(ctx, outs); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	return len(outs), nil
}
