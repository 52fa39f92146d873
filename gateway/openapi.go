package gateway

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"go.yaml.in/yaml/v3"

	"github.com/twin-llm/twin/internal/httpserver"
)

// openAPIYAML is the hand-written description of the /v1 API. It is kept
// in YAML, which people can read and review; clients get it as JSON.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the OpenAPI 3.1 description of the /v1 API as JSON, the
// document GET /v1/openapi.json serves.
func OpenAPI() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	doc, err := jsonValue(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return out, nil
}

// jsonValue turns a decoded YAML value into one encoding/json can write:
// YAML mappings may have keys that are not strings, JSON objects may not.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("mapping key %v is a %T, want a string (quote it)", k, k)
			}
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	}
	return v, nil
}

// serveOpenAPI answers GET /v1/openapi.json. The document is public: it
// says only what the source says, and tools read it before they hold a
// token.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	doc, err := g.openAPI()
	if err != nil {
		g.cfg.Log.Error().Err(err).Msg("openapi document")
		httpserver.WriteError(w, http.StatusInternalServerError, "the API description does not load: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// It changes only with the binary: clients may keep it, but ask again.
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(doc)
}
