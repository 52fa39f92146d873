package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
)

// Models is the model registry the gateway serves (registry.Registry).
type Models interface {
	List(ctx context.Context, name string) ([]warehouse.ModelRecord, error)
	Promote(ctx context.Context, name, version string) (warehouse.ModelRecord, error)
	Rollback(ctx context.Context, name string) (warehouse.ModelRecord, error)
}

// ModelRequest is the body of POST /v1/models/promote (name and version)
// and POST /v1/models/rollback (name).
type ModelRequest struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// listModels answers GET /v1/models[?name=]: every version, newest first
// per model.
func (g *Gateway) listModels(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Models == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the model registry is not available on this gateway")
		return
	}
	name := r.URL.Query().Get("name")
	if name != "" && !schemas.ValidToken(name) {
		httpserver.WriteError(w, http.StatusBadRequest, "name must be letters, digits, '_' or '-'")
		return
	}
	ms, err := g.cfg.Models.List(r.Context(), name)
	if err != nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if ms == nil {
		ms = []warehouse.ModelRecord{}
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"models": ms})
}

// promoteModel answers POST /v1/models/promote.
func (g *Gateway) promoteModel(w http.ResponseWriter, r *http.Request) {
	g.changeModel(w, r, true)
}

// rollbackModel answers POST /v1/models/rollback.
func (g *Gateway) rollbackModel(w http.ResponseWriter, r *http.Request) {
	g.changeModel(w, r, false)
}

func (g *Gateway) changeModel(w http.ResponseWriter, r *http.Request, promote bool) {
	if g.cfg.Models == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "the model registry is not available on this gateway")
		return
	}
	var req ModelRequest
	if err := decodeJSON(w, r, &req); err != nil {
		httpserver.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !schemas.ValidToken(req.Name) {
		httpserver.WriteError(w, http.StatusBadRequest, `"name" must be a model name: letters, digits, '_' or '-'`)
		return
	}
	var m warehouse.ModelRecord
	var err error
	if promote {
		if req.Version == "" {
			httpserver.WriteError(w, http.StatusBadRequest, `"version" is required`)
			return
		}
		m, err = g.cfg.Models.Promote(r.Context(), req.Name, req.Version)
	} else {
		m, err = g.cfg.Models.Rollback(r.Context(), req.Name)
	}
	switch {
	case errors.Is(err, registry.ErrNoVersion):
		httpserver.WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, registry.ErrNoRollback), errors.Is(err, registry.ErrNotServable):
		httpserver.WriteError(w, http.StatusConflict, err.Error())
	case err != nil:
		httpserver.WriteError(w, http.StatusServiceUnavailable, err.Error())
	default:
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"serving": m})
	}
}
