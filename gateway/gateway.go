// Package gateway is twin's public HTTP interface: the REST API and, with
// later components, the WebSocket chat and the web page. It is stateless;
// any number of replicas can serve the same system.
package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/streams"
)

// Gateway serves the API of one system.
type Gateway struct {
	js  jetstream.JetStream
	log zerolog.Logger
}

// New returns a gateway talking to the system through js.
func New(js jetstream.JetStream, log zerolog.Logger) *Gateway {
	return &Gateway{js: js, log: log}
}

// Register adds the gateway's routes to srv.
func (g *Gateway) Register(srv *httpserver.Server) {
	srv.Handle("GET /v1/status", http.HandlerFunc(g.status))
}

// status answers GET /v1/status: every stream and consumer with its lag,
// the JSON that `twin status --json` prints.
func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := streams.ReadStatus(ctx, g.js)
	if err != nil {
		g.log.Warn().Err(err).Msg("status")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "cannot read stream status: "+err.Error())
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, st)
}
