package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/cdc"
)

// DocSummary is one document in a listing: what it is and where it came
// from, without its content.
type DocSummary struct {
	ID          string    `json:"id"`
	Collection  string    `json:"collection"`
	AuthorID    string    `json:"author_id,omitempty"`
	Author      string    `json:"author,omitempty"`
	Platform    string    `json:"platform,omitempty"`
	Link        string    `json:"link,omitempty"`
	Title       string    `json:"title,omitempty"`
	Revision    int64     `json:"revision"`
	Size        int       `json:"size"` // bytes of content
	Deleted     bool      `json:"deleted,omitempty"`
	ContentHash string    `json:"content_hash"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Summarize describes d without its content.
func Summarize(d warehouse.Document) DocSummary {
	return DocSummary{ID: d.ID, Collection: d.Collection, AuthorID: d.AuthorID, Author: d.Author,
		Platform: d.Platform, Link: d.Link, Title: d.Title, Revision: d.Revision, Size: len(d.Content),
		Deleted: d.Deleted, ContentHash: d.ContentHash, UpdatedAt: d.UpdatedAt}
}

// listDocs answers GET /v1/docs?author=&collection=&limit=: the newest
// documents first.
func (g *Gateway) listDocs(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Store == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the warehouse is not available on this gateway")
		return
	}
	q := r.URL.Query()
	opts := warehouse.ListOptions{Collection: q.Get("collection"), Limit: 100, Descending: true}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			httpserver.WriteError(w, http.StatusBadRequest, "limit must be a number from 1 to 10000")
			return
		}
		opts.Limit = n
	}
	docs, err := g.documents(r.Context(), q.Get("author"), opts)
	if errors.Is(err, warehouse.ErrInvalid) {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	out := make([]DocSummary, len(docs))
	for i, d := range docs {
		out[i] = Summarize(d)
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"documents": out})
}

// getDoc answers GET /v1/docs/{id}: the whole document, from whichever
// collection holds it.
func (g *Gateway) getDoc(w http.ResponseWriter, r *http.Request) {
	d, ok := g.findDoc(w, r)
	if ok {
		httpserver.WriteJSON(w, http.StatusOK, d)
	}
}

// deleteDoc answers DELETE /v1/docs/{id}: the document becomes a tombstone
// with a new revision, and the change removes its chunks from the vector
// store like any other change.
func (g *Gateway) deleteDoc(w http.ResponseWriter, r *http.Request) {
	d, ok := g.findDoc(w, r)
	if !ok {
		return
	}
	if d.Deleted {
		// The warehouse has nothing left to change, but the index may
		// still hold chunks (a delete it did not apply): the tombstone goes
		// through the pipeline again, so a delete always ends with none.
		if g.cfg.Publisher == nil {
			httpserver.WriteError(w, http.StatusNotFound, "document "+strconv.Quote(d.ID)+" is already deleted")
			return
		}
		if _, err := g.republish(r.Context(), cdc.Held{d}, nil); err != nil {
			httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"id": d.ID, "revision": d.Revision, "deleted": true})
		return
	}
	res, err := g.cfg.Store.Delete(r.Context(), d.Collection, d.ID)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"id": d.ID, "revision": res.Revision, "deleted": true})
}

// findDoc looks the path's {id} up in every collection, answering the
// request itself when it cannot.
func (g *Gateway) findDoc(w http.ResponseWriter, r *http.Request) (warehouse.Document, bool) {
	if g.cfg.Store == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the warehouse is not available on this gateway")
		return warehouse.Document{}, false
	}
	id := r.PathValue("id")
	for _, coll := range warehouse.Collections() {
		d, err := g.cfg.Store.Get(r.Context(), coll, id)
		if errors.Is(err, warehouse.ErrNotFound) {
			continue
		}
		if err != nil {
			httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
			return d, false
		}
		return d, true
	}
	httpserver.WriteError(w, http.StatusNotFound, "no document with id "+strconv.Quote(id))
	return warehouse.Document{}, false
}

// documents lists the warehouse's documents, or one author's.
func (g *Gateway) documents(ctx context.Context, author string, opts warehouse.ListOptions) ([]warehouse.Document, error) {
	if author != "" {
		return g.cfg.Store.ListByAuthor(ctx, warehouse.AuthorID(author), opts)
	}
	return g.cfg.Store.List(ctx, opts)
}
