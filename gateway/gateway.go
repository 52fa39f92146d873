// Package gateway is twin's public HTTP interface: the REST API, the
// WebSocket chat and (in gateway/web) the web page. It is stateless: a
// chat reply lives in the CHAT_REPLIES stream, not in the gateway, so any
// number of replicas can serve the same system and a client can resume on
// any of them.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/gateway/web"
	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/ops"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/streams"
)

// Config is what the gateway serves from. Crawl, Store and Search may be
// nil: their routes then answer 503. The chat needs JS and Publisher.
type Config struct {
	JS jetstream.JetStream
	// NC carries the live chat replies (core NATS subscriptions); nil
	// means JS's own connection.
	NC     *nats.Conn
	Log    zerolog.Logger
	Crawl  *crawl.Publisher
	Store  warehouse.Store
	Search Retriever
	// Points counts the points of the vector store, for GET /v1/status;
	// nil leaves them out.
	Points    PointCounter
	Models    Models // nil: /v1/models answers 503
	Publisher *streams.Publisher
	// Traces finds the trace of a chat request whose reply has left
	// CHAT_REPLIES (kept 15 minutes), so older answers can still be
	// rated. Nil: only requests still in CHAT_REPLIES can be.
	Traces TraceFinder
	// TraceStore reads the stored traces, for GET /v1/traces and for
	// judging the sources of answers that have left CHAT_REPLIES; nil:
	// the traces API answers 503.
	TraceStore TraceReader
	// Judgments reads the judgments of a request's sources, shown with its
	// trace; nil: a trace comes without them.
	Judgments JudgmentReader
	// Datasets builds datasets for POST /v1/datasets; nil answers 503.
	Datasets DatasetBuilder
	// Metrics registers the gateway's metrics; nil leaves them
	// unregistered.
	Metrics prometheus.Registerer
	Auth    AuthConfig
	Chat    ChatConfig
	// Connect is what GET /v1/connect tells clients about NATS.
	Connect ConnectInfo
}

// PointCounter counts the points of a vector store.
type PointCounter interface {
	Count(ctx context.Context, f vectors.Filter) (int, error)
}

// Status is the answer of GET /v1/status: the streams with their
// consumers, and how many documents the warehouse holds (tombstones left
// out) and points the vector store, each absent when its store is not
// available on this gateway.
type Status struct {
	ops.Status
	Documents *int64 `json:"documents,omitempty"`
	Points    *int64 `json:"points,omitempty"`
}

// Retriever answers /v1/search: the retrieval the chat answers from
// (retrieval.Pipeline), reranked unless the request says rerank=false.
type Retriever interface {
	Retrieve(ctx context.Context, r retrieval.Request, rerank bool) ([]retrieval.Hit, error)
	// RerankerName names the reranker in service.
	RerankerName() string
}

// Gateway serves the API of one system.
type Gateway struct {
	cfg     Config
	nc      *nats.Conn
	chat    ChatConfig // cfg.Chat with its defaults
	limits  parseLimits
	auth    *authenticator
	metrics *gatewayMetrics
	ips     *ipLimiters
	// limiterKey names a request's per-address limiter; tests replace it
	// to play clients from other addresses over loopback.
	limiterKey func(*http.Request) string
	// ctx is the parent of every chat connection's context; Shutdown
	// cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	connsMu  sync.Mutex // guards conns, reserved and shutdown
	conns    map[*chatConn]struct{}
	reserved int // connection slots taken: upgrading or open
	shutdown bool
	connsWG  sync.WaitGroup // one per reserved slot

	streamMu sync.Mutex // guards replies
	replies  jetstream.Stream

	// openAPI is the API's description as JSON, converted once.
	openAPI func() ([]byte, error)
	// routes are the patterns Register added, for Routes.
	routes []string
}

// New returns a gateway. An invalid cfg.Auth is logged and makes every
// /v1 route answer 500: serving without the auth that was asked for would
// be worse. Call AuthConfig.Validate first to fail at start instead.
func New(cfg Config) *Gateway {
	g := &Gateway{
		cfg:     cfg,
		nc:      cfg.NC,
		chat:    cfg.Chat.withDefaults(),
		auth:    newAuthenticator(cfg.Auth),
		metrics: newMetrics(cfg.Metrics),
		conns:   make(map[*chatConn]struct{}),

		limiterKey: limiterKey,
		openAPI:    sync.OnceValues(OpenAPI),
	}
	if g.nc == nil && cfg.JS != nil {
		g.nc = cfg.JS.Conn()
	}
	g.limits = parseLimits{maxQueryChars: g.chat.MaxQueryChars, maxCommentChars: g.chat.MaxCommentChars}
	g.ips = newIPLimiters(limitOf(g.chat.IPAskRate), g.chat.IPAskBurst, g.chat.MaxIPs, g.chat.IPIdle)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if g.auth.invalid != nil {
		cfg.Log.Error().Err(g.auth.invalid).Msg("gateway auth is misconfigured: every /v1 request is refused")
	}
	return g
}

// maxBody bounds every request body the API reads.
const maxBody = 1 << 20

// Register adds the gateway's routes to srv, every one behind the auth of
// Config.Auth except the page and the API's description, and every /v1 one
// counted and timed (refusals included). Routes lists them afterwards.
func (g *Gateway) Register(srv *httpserver.Server) {
	handle := func(pattern string, h http.Handler) {
		g.routes = append(g.routes, pattern)
		srv.Handle(pattern, h)
	}
	api := func(pattern string, h http.HandlerFunc) {
		handle(pattern, g.metrics.instrument(pattern, g.requireAuth(h, false)))
	}
	// The description is public, like the page: it says only what the
	// source says, and tools read it before they hold a token.
	handle("GET /v1/openapi.json", g.metrics.instrument("GET /v1/openapi.json", http.HandlerFunc(g.serveOpenAPI)))
	api("GET /v1/status", g.status)
	api("GET /v1/connect", g.connect)
	api("POST /v1/crawl", g.crawl)
	api("GET /v1/docs", g.listDocs)
	api("GET /v1/docs/{id}", g.getDoc)
	api("DELETE /v1/docs/{id}", g.deleteDoc)
	api("GET /v1/search", g.search)
	api("POST /v1/reindex", g.reindex)
	api("POST /v1/feedback", g.postFeedback)
	api("GET /v1/authors", g.authors)
	api("GET /v1/models", g.listModels)
	api("POST /v1/models/promote", g.promoteModel)
	api("POST /v1/models/rollback", g.rollbackModel)
	api("GET /v1/traces", g.listTraces)
	api("GET /v1/traces/{id}", g.getTrace)
	g.registerDatasets(api)
	handle("GET /v1/chat", g.metrics.instrument("GET /v1/chat", g.requireAuth(http.HandlerFunc(g.serveChat), true)))
	// The page itself is public: a browser cannot send a bearer header to
	// load it, and it holds nothing but code; its API calls carry the token.
	handle("GET /", web.Handler())
}

// Routes are the patterns ("METHOD /path") Register added, in order; the
// test of the API's description holds it to them.
func (g *Gateway) Routes() []string { return slices.Clone(g.routes) }

// RequireAuth wraps h with the gateway's authentication, for routes
// registered elsewhere that belong to the API.
func (g *Gateway) RequireAuth(h http.Handler) http.Handler { return g.requireAuth(h, false) }

// status answers GET /v1/status: every stream and consumer with its lag,
// the index's freshness and the training jobs, the JSON that `twin status
// --json` prints.
func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := ops.Read(ctx, g.cfg.JS)
	if err != nil {
		g.cfg.Log.Warn().Err(err).Msg("status")
		httpserver.WriteError(w, http.StatusServiceUnavailable, "cannot read stream status: "+err.Error())
		return
	}
	res := Status{Status: st}
	if g.cfg.Store != nil {
		if n, err := g.cfg.Store.Count(ctx, "", warehouse.ListOptions{}); err == nil {
			res.Documents = &n
		} else {
			g.cfg.Log.Warn().Err(err).Msg("status: count documents")
		}
	}
	if g.cfg.Points != nil {
		if n, err := g.cfg.Points.Count(ctx, vectors.Filter{}); err == nil {
			n64 := int64(n)
			res.Points = &n64
		} else {
			g.cfg.Log.Warn().Err(err).Msg("status: count points")
		}
	}
	httpserver.WriteJSON(w, http.StatusOK, res)
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
		}{noneAccepted(res.Rejected), res})
	default:
		httpserver.WriteJSON(w, http.StatusAccepted, res)
	}
}

// noneAccepted is the error of a crawl request whose every URL was
// refused: the first reason, so that a client that shows only the error
// still says why.
func noneAccepted(rejected []crawl.Rejected) string {
	msg := "no acceptable URL"
	if len(rejected) > 0 {
		msg += ": " + rejected[0].URL + ": " + rejected[0].Reason
	}
	if len(rejected) > 1 {
		msg += fmt.Sprintf(" (and %d more rejected)", len(rejected)-1)
	}
	return msg
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
