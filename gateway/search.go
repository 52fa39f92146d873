package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/retrieval"
)

// search answers GET /v1/search?q=&author=&k=&category=&rerank=.
func (g *Gateway) search(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Search == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "search is not available on this gateway")
		return
	}
	q := r.URL.Query()
	req := retrieval.Request{Query: q.Get("q"), Author: q.Get("author")}
	if c := q.Get("category"); c != "" {
		req.Category = strings.Split(c, ",")
	}
	if v := q.Get("k"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > retrieval.MaxK {
			httpserver.WriteError(w, http.StatusBadRequest, "k must be a number from 1 to "+strconv.Itoa(retrieval.MaxK))
			return
		}
		req.K = k
	}
	rerank := true
	if v := q.Get("rerank"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpserver.WriteError(w, http.StatusBadRequest, "rerank must be true or false")
			return
		}
		rerank = b
	}
	if len(req.Query) > 4096 {
		httpserver.WriteError(w, http.StatusBadRequest, "q is longer than 4096 bytes")
		return
	}
	if msg, known := g.knownAuthor(r.Context(), req.Author); !known {
		httpserver.WriteError(w, http.StatusNotFound, msg)
		return
	}
	hits, err := g.cfg.Search.Retrieve(r.Context(), req, rerank)
	if errors.Is(err, retrieval.ErrEmptyQuery) {
		httpserver.WriteError(w, http.StatusBadRequest, "q must not be empty")
		return
	}
	if err != nil {
		g.cfg.Log.Warn().Err(err).Msg("search")
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	resp := map[string]any{"hits": hits}
	if rerank {
		resp["reranker"] = g.cfg.Search.RerankerName()
	}
	httpserver.WriteJSON(w, http.StatusOK, resp)
}
