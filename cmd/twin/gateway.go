package main

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/crawl"
	"github.com/twin-llm/twin/streams"
)

// lagInterval is how often consumer lag is read from the server.
const lagInterval = 3 * time.Second

// gatewayFlags configure who may use the gateway and the chat's limits.
type gatewayFlags struct {
	tokens        []string
	jwtSecretFile string
	allowOpen     bool
	origins       []string
	maxConns      int
	maxInFlight   int
	askRate       float64
	ipAskRate     float64
	maxFrame      int
	natsAdvertise string
}

func addGatewayFlags(fl *pflag.FlagSet, f *gatewayFlags) {
	fl.StringSliceVar(&f.tokens, "auth-token", nil, "bearer tokens the API accepts (each at least 16 bytes; repeat or comma-separate); with none and no JWT secret, only loopback clients are served")
	fl.StringVar(&f.jwtSecretFile, "auth-jwt-secret-file", "", "file holding the HMAC secret (at least 32 bytes) of HS256 JWTs the API accepts")
	fl.BoolVar(&f.allowOpen, "allow-open", false, "serve clients from any address without a token (only behind a proxy that authenticates)")
	fl.StringSliceVar(&f.origins, "chat-origin", nil, "extra origins allowed to open the chat WebSocket (host patterns such as app.example.com); the page's own origin is always allowed")
	fl.IntVar(&f.maxConns, "chat-max-conns", gateway.DefaultMaxConns, "most chat WebSocket connections at once (-1: no limit)")
	fl.IntVar(&f.maxInFlight, "chat-max-in-flight", gateway.DefaultMaxInFlight, "questions one connection may have unanswered at once")
	fl.Float64Var(&f.askRate, "chat-ask-rate", gateway.DefaultAskRate, "questions per second one connection may ask, sustained (-1: no limit)")
	fl.Float64Var(&f.ipAskRate, "chat-ip-ask-rate", gateway.DefaultIPAskRate, "questions per second one client address may ask over all its connections (-1: no limit; loopback is exempt)")
	fl.IntVar(&f.maxFrame, "chat-max-frame", gateway.DefaultMaxFrameBytes, "largest WebSocket frame a client may send, in bytes")
	fl.StringVar(&f.natsAdvertise, "nats-advertise", "", "the NATS URL the gateway tells clients (GET /v1/connect), when they reach NATS by another name than this process does (default: the embedded server's listen address, or the --nats server)")
}

// config turns the flags into the gateway's auth and chat settings.
func (f gatewayFlags) config() (gateway.AuthConfig, gateway.ChatConfig, error) {
	auth := gateway.AuthConfig{Tokens: f.tokens, AllowOpen: f.allowOpen}
	if f.jwtSecretFile != "" {
		secret, err := os.ReadFile(f.jwtSecretFile)
		if err != nil {
			return auth, gateway.ChatConfig{}, fmt.Errorf("--auth-jwt-secret-file: %w", err)
		}
		auth.JWTSecret = trimNewline(secret)
	}
	if err := auth.Validate(); err != nil {
		return auth, gateway.ChatConfig{}, err
	}
	chat := gateway.ChatConfig{OriginPatterns: f.origins, MaxConns: f.maxConns, MaxInFlight: f.maxInFlight,
		AskRate: f.askRate, IPAskRate: f.ipAskRate, MaxFrameBytes: int64(f.maxFrame)}
	return auth, chat, nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// traceFinder finds a request's trace in the warehouse, for feedback on
// answers older than the replies stream keeps.
type traceFinder struct{ store warehouse.TraceStore }

func (t traceFinder) TraceByRequest(ctx context.Context, requestID string) (string, error) {
	rec, err := t.store.TraceByRequest(ctx, requestID)
	if errors.Is(err, warehouse.ErrNotFound) {
		return "", gateway.ErrTraceNotFound
	}
	if err != nil {
		return "", err
	}
	return rec.TraceID, nil
}

// checkGateway refuses bad auth settings and, as the gateway serves
// /v1/search through the chat's retrieval, bad settings of the vector
// store, the embedding model and the reranker.
func checkGateway(f serveFlags) error {
	if _, _, err := f.gateway.config(); err != nil {
		return err
	}
	if err := checkAdvertise(f.gateway.natsAdvertise); err != nil {
		return err
	}
	if err := f.chat.checkRerank(); err != nil {
		return err
	}
	return f.vectors.check()
}

func runGateway(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	auth, chat, err := s.flags.gateway.config()
	if err != nil {
		return err
	}
	cfg := gateway.Config{JS: s.js, NC: s.nc, Log: log, Crawl: crawl.NewPublisher(s.pub, s.flags.crawl.local),
		Publisher: s.pub, Metrics: s.reg, Auth: auth, Chat: chat, Connect: s.connectInfo()}
	store, err := s.warehouse(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("warehouse unavailable: /v1/docs and /v1/authors answer 503")
	} else {
		cfg.Store = store
		if ts, ok := store.(warehouse.TraceStore); ok {
			cfg.Traces, cfg.TraceStore = traceFinder{ts}, ts
		}
		if js, ok := store.(gateway.JudgmentReader); ok {
			cfg.Judgments = js
		}
		cfg.Datasets = datasetBuilder(s, store, log)
	}
	if reg, err := s.registry(ctx); err != nil {
		log.Warn().Err(err).Msg("model registry unavailable: /v1/models answers 503")
	} else {
		cfg.Models = reg
	}
	if search, err := s.retriever(ctx); err != nil {
		log.Warn().Err(err).Msg("search unavailable: /v1/search answers 503")
	} else {
		cfg.Search = search
		cfg.Points = s.feat.store
	}
	g := gateway.New(cfg)
	g.Register(s.http)
	s.gw.Store(g)
	lag := streams.NewLagCollector(s.js, log)
	if err := s.reg.Register(lag); err != nil {
		return err
	}
	ready()
	lag.Run(ctx, lagInterval)
	// The HTTP server's shutdown does not close WebSockets: say goodbye
	// (1001) so that clients reconnect elsewhere and resume.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return g.Shutdown(sctx)
}

// checkAdvertise refuses a --nats-advertise that no client could dial.
func checkAdvertise(u string) error {
	if u == "" {
		return nil
	}
	p, err := neturl.Parse(u)
	if err != nil || p.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme) {
		return fmt.Errorf("--nats-advertise %q: want a URL such as nats://twin.example.com:4222", u)
	}
	if p.User != nil {
		return fmt.Errorf("--nats-advertise %q: carries credentials, which the gateway would tell every client", u)
	}
	return nil
}

// connectInfo is what the gateway tells clients about this system's NATS:
// --nats-advertise, else where the embedded server listens (and the data
// dir its credentials are in), else the server this process is connected
// to, without its credentials.
func (s *system) connectInfo() gateway.ConnectInfo {
	var c gateway.ConnectInfo
	switch {
	case s.embedded != nil:
		c.NATS, c.DataDir = s.embedded.ClientURL(), s.g.data
	case s.nc != nil:
		c.NATS = s.nc.ConnectedUrlRedacted()
	}
	if s.flags.gateway.natsAdvertise != "" {
		c.NATS = s.flags.gateway.natsAdvertise
	}
	return c
}

// gatewayConnections is the number of open chat connections of this
// process's gateway.
func (s *system) gatewayConnections() int {
	if g := s.gw.Load(); g != nil {
		return g.Connections()
	}
	return 0
}
