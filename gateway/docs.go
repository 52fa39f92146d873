package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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

// DocList is the answer of GET /v1/docs: one page of the listing, the
// number of documents the whole listing holds, and the cursor of the next
// page (empty on the last).
type DocList struct {
	Documents []DocSummary `json:"documents"`
	Total     int64        `json:"total"`
	Next      string       `json:"next,omitempty"`
}

// listDocs answers GET /v1/docs?author=&collection=&limit=&after=: the
// newest documents first, limit (default 100) a page; after is the next
// cursor of the page before.
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
	if v := q.Get("after"); v != "" {
		after, err := parseCursor(v)
		if err != nil {
			httpserver.WriteError(w, http.StatusBadRequest, "after must be the next cursor of an earlier page: "+err.Error())
			return
		}
		opts.After = after
	}
	authorID := ""
	if a := q.Get("author"); a != "" {
		authorID = warehouse.AuthorID(a)
	}
	// One more than the page tells whether there is a next page.
	page := opts
	page.Limit++
	docs, err := g.documents(r.Context(), authorID, page)
	var total int64
	if err == nil {
		total, err = g.cfg.Store.Count(r.Context(), authorID, opts)
	}
	if errors.Is(err, warehouse.ErrInvalid) {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "warehouse: "+err.Error())
		return
	}
	res := DocList{Total: total}
	if len(docs) > opts.Limit {
		docs = docs[:opts.Limit]
		res.Next = formatCursor(docs[len(docs)-1].Revision)
	}
	res.Documents = make([]DocSummary, len(docs))
	for i, d := range docs {
		res.Documents[i] = Summarize(d)
	}
	httpserver.WriteJSON(w, http.StatusOK, res)
}

// formatCursor and parseCursor are the next cursor of a listing: the
// revision of the last document of a page, which is unique across
// collections. Clients pass it back as it is.
func formatCursor(revision int64) string { return "r" + strconv.FormatInt(revision, 10) }

func parseCursor(s string) (int64, error) {
	rev, err := strconv.ParseInt(strings.TrimPrefix(s, "r"), 10, 64)
	if err != nil || rev < 1 || !strings.HasPrefix(s, "r") {
		return 0, fmt.Errorf("%q is not one", s)
	}
	return rev, nil
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
func (g *Gateway) documents(ctx context.Context, authorID string, opts warehouse.ListOptions) ([]warehouse.Document, error) {
	if authorID != "" {
		return g.cfg.Store.ListByAuthor(ctx, authorID, opts)
	}
	return g.cfg.Store.List(ctx, opts)
}
