package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/config"
	"github.com/twin-llm/twin/internal/datalock"
	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/internal/metrics"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

// serveFlags are the settings of a process that runs components.
type serveFlags struct {
	http       string
	natsListen string
	maxMemory  config.Bytes
	maxStore   config.Bytes
	replicas   int
	sync       syncMode
	mongo      string
	mongoDB    string
	crawl      crawlFlags
	cdc        cdcFlags
	vectors    vectorFlags
	chat       chatFlags
	gateway    gatewayFlags
	policy     policyFlags
	trainer    trainerFlags

	metricsPublic bool // /metrics without the API's auth
}

// system is one running twin process: its connections, registry, HTTP
// server and the shared pieces components are built from.
type system struct {
	g        *globals
	log      zerolog.Logger
	reg      *prometheus.Registry
	nc       *nats.Conn
	js       jetstream.JetStream
	topo     streams.Topology
	runtime  *streams.Runtime
	pub      *streams.Publisher
	metrics  *streams.Metrics
	http     *httpserver.Server
	httpAddr string
	embedded *streams.Server // nil when using an external NATS
	flags    serveFlags

	lockMu sync.Mutex // guards lock
	lock   *datalock.Lock

	applied atomic.Bool // the topology is in place: part of /readyz
	started atomic.Bool // every component is ready: part of /readyz

	storeOnce sync.Once // opens store on first use, for the components that need it
	store     warehouse.Store
	storeErr  error

	feat   features // vector store and models, opened on first use
	models serving  // the models in service, opened on first use

	gw atomic.Pointer[gateway.Gateway] // set once the gateway component runs
}

// warehouse opens the warehouse store once: MongoDB with --mongo, else
// SQLite in the data dir.
func (s *system) warehouse(ctx context.Context) (warehouse.Store, error) {
	s.storeOnce.Do(func() {
		// Assigned only on success: a typed nil would pass for a store.
		if s.flags.mongo != "" {
			st, err := warehouse.OpenMongo(ctx, s.flags.mongo, s.flags.mongoDB)
			if err != nil {
				s.storeErr = fmt.Errorf("open MongoDB warehouse: %w", err)
				return
			}
			s.store = st
			return
		}
		// No lock: SQLite serializes the writers of every process on the
		// machine, and the components that must run once take their own
		// (see component.once).
		st, err := warehouse.OpenSQLite(ctx, filepath.Join(s.g.data, "warehouse.db"), s.flags.sync.sqlite())
		if err != nil {
			s.storeErr = fmt.Errorf("open SQLite warehouse: %w", err)
			return
		}
		s.store = st
	})
	return s.store, s.storeErr
}

// lockData takes the data dir's lock, once, before the embedded NATS
// store is opened: twin up owns its data dir. Processes of twin run share
// one (the SQLite warehouse, the credentials) and lock only what runs once
// per data dir (see component.once); client commands lock nothing.
func (s *system) lockData() error {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if s.lock != nil {
		return nil
	}
	l, err := datalock.Acquire(s.g.data)
	if err != nil {
		return err
	}
	s.lock = l
	return nil
}

// start brings up NATS (embedded unless --nats is set), applies the
// topology and starts the HTTP server. Components are started by serve.
// On an error, whatever it started is stopped again.
func start(ctx context.Context, g *globals, f serveFlags) (_ *system, err error) {
	s := &system{g: g, log: g.log, reg: metrics.NewRegistry(), flags: f}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.topo = streams.DefaultTopology()
	s.topo.Replicas = f.replicas
	// Refuse bad auth flags before anything starts: /metrics uses them too.
	auth, _, err := f.gateway.config()
	if err != nil {
		return nil, err
	}

	if g.nats == "" {
		if err := s.lockData(); err != nil {
			return nil, err
		}
		listen := f.natsListen
		if listen == "off" {
			listen = ""
		}
		ns, err := streams.StartServer(f.sync.server(streams.ServerConfig{
			DataDir: g.data, Listen: listen,
			MaxMemory: int64(f.maxMemory), MaxStore: int64(f.maxStore), Log: g.log,
		}))
		if err != nil {
			return nil, err
		}
		s.embedded = ns
		// Leave room for the KV buckets, and a little slack.
		s.topo = s.topo.FitStore(int64(f.maxStore)*9/10 - streams.BucketBytes)
		if s.nc, err = ns.Connect(s.connOptions()...); err != nil {
			return nil, fmt.Errorf("connect to embedded NATS: %w", err)
		}
	} else {
		opts := append(s.connOptions(), nats.RetryOnFailedConnect(false))
		if s.nc, err = g.dialNATS(streams.RoleSystem, opts...); err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", g.nats, err)
		}
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.js = streams.WithReplicas(s.js, f.replicas)
	s.metrics = streams.NewMetrics(s.reg)
	s.runtime = streams.NewRuntime(s.js, s.topo, s.metrics, g.log)
	s.pub = streams.NewPublisher(s.js)

	var hopts []httpserver.Option
	if !f.metricsPublic {
		hopts = append(hopts, httpserver.MetricsGuard(gateway.Protect(auth)))
	}
	s.http = httpserver.New(s.reg, g.log, hopts...)
	s.http.AddCheck("nats", func(context.Context) error {
		if st := s.nc.Status(); st != nats.CONNECTED {
			return fmt.Errorf("NATS connection is %s", st)
		}
		return nil
	})
	s.http.AddCheck("components", func(context.Context) error {
		if !s.started.Load() {
			return errors.New("components starting")
		}
		return nil
	})
	s.http.AddCheck("topology", func(context.Context) error {
		if !s.applied.Load() {
			return errors.New("streams not applied yet")
		}
		return nil
	})
	if f.http != "off" {
		addr, err := s.http.Listen(f.http)
		if err != nil {
			return nil, err
		}
		s.httpAddr = addr.String()
	}

	// Minutes, not seconds: on a cluster that is still forming, or busy
	// with every process of a deployment applying it at once, Apply waits
	// for the members to agree on each stream.
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := s.topo.Apply(actx, s.js); err != nil {
		return nil, err
	}
	s.applied.Store(true)
	return s, nil
}

func (s *system) connOptions() []nats.Option {
	log := s.log.With().Str("component", "nats").Logger()
	return []nats.Option{
		nats.Name("twin"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: we closed it ourselves
				log.Warn().Err(err).Msg("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("url", c.ConnectedUrl()).Msg("NATS reconnected")
		}),
	}
}

// serve starts the given components, prints the banner once all of them
// are ready, and runs them until ctx ends; then it stops everything in
// order: components drain their consumers, the HTTP server finishes its
// requests, the connection flushes, the embedded server closes its store.
func (s *system) serve(ctx context.Context, comps []component, began time.Time) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(comps))
	readies := make(chan struct{}, len(comps))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range comps {
		log := s.log.With().Str("component", c.name).Logger()
		var once sync.Once
		ready := func() { once.Do(func() { readies <- struct{}{} }) }
		wg.Go(func() {
			if err := c.run(cctx, s, log, ready); err != nil && cctx.Err() == nil {
				errs <- fmt.Errorf("component %s: %w", c.name, err)
				cancel() // one failed component stops the process
			}
		})
	}
	for range comps {
		select {
		case <-readies:
			continue
		case <-cctx.Done():
		}
		break
	}
	if cctx.Err() == nil {
		s.started.Store(true)
		// Logged first: on a terminal the banner, with what to do next,
		// stays the last thing on screen.
		s.log.Info().Str("http", s.httpAddr).Str("data", s.g.data).Int("components", len(comps)).Msg("twin is up")
		s.banner(ctx, comps, time.Since(began))
	}
	<-cctx.Done()
	s.log.Info().Msg("shutting down")
	wg.Wait()
	close(errs)
	var failures []error
	for err := range errs {
		failures = append(failures, err)
	}
	s.close()
	s.log.Info().Msg("stopped")
	return errors.Join(failures...)
}

func (s *system) close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	if s.nc != nil {
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.log.Warn().Err(err).Msg("flush NATS connection")
		}
		s.nc.Close()
	}
	if s.embedded != nil {
		s.embedded.Shutdown()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Warn().Err(err).Msg("close warehouse")
		}
	}
	if s.feat.store != nil {
		if err := s.feat.store.Close(); err != nil {
			s.log.Warn().Err(err).Msg("close vector store")
		}
	}
	// Last: every store of the data dir is closed now.
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if err := s.lock.Release(); err != nil {
		s.log.Warn().Err(err).Msg("release the data dir lock")
	}
	s.lock = nil
}

// banner prints where each part listens, then what a person does next:
// the page to open, the one setting a client command needs when the
// defaults would not find this twin, and, on an empty twin, the command
// that fills it. It is written at once, so a reader that waits for its
// "ready in" line has all of it.
func (s *system) banner(ctx context.Context, comps []component, took time.Duration) {
	var b strings.Builder
	if s.embedded != nil {
		url := s.embedded.ClientURL()
		if url == "" {
			url = "in-process only (--nats-listen off)"
		}
		fmt.Fprintf(&b, "nats     %s  (embedded JetStream, store %s, credentials %s)\n", url, s.g.data+"/nats", streams.AuthDir(s.g.data))
	} else {
		fmt.Fprintf(&b, "nats     %s\n", s.nc.ConnectedUrlRedacted())
	}
	names := make([]string, len(comps))
	gatewayRuns := false
	for i, c := range comps {
		names[i] = c.name
		gatewayRuns = gatewayRuns || c.name == "gateway"
	}
	if s.httpAddr != "" {
		routes := "/metrics /healthz /readyz"
		if gatewayRuns {
			routes = "chat page at /, WebSocket /v1/chat, REST /v1/..., " + routes
		}
		fmt.Fprintf(&b, "http     http://%s  (%s)\n", s.httpAddr, routes)
	}
	fmt.Fprintf(&b, "running  %s\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "sync     %s\n", syncNote(s.flags.sync, s.embedded))
	if gatewayRuns && s.httpAddr != "" {
		fmt.Fprintf(&b, "open     %s/ in a browser to chat\n", reachableURL("http", s.httpAddr))
	}
	if line := s.clientLine(gatewayRuns); line != "" {
		fmt.Fprintf(&b, "clients  %s\n", line)
	}
	if s.empty(ctx) {
		b.WriteString(emptyHint())
	}
	fmt.Fprintf(&b, "ready in %s; Ctrl-C stops\n", took.Round(time.Millisecond))
	_, _ = io.WriteString(s.g.stdout, b.String())
}

// reachableURL is scheme://addr with a listen-everywhere host (0.0.0.0,
// ::) replaced by this machine's loopback, which a browser can open.
func reachableURL(scheme, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// clientLine is what a client command on this machine needs to find this
// twin when the defaults would not: the gateway's address (it tells the
// rest, GET /v1/connect), or without a gateway the NATS URL and data dir.
// Empty when the defaults find it.
func (s *system) clientLine(gatewayRuns bool) string {
	var env []string
	if gatewayRuns && s.httpAddr != "" {
		if u := reachableURL("http", s.httpAddr); u != defaultServer {
			env = append(env, "TWIN_SERVER="+u)
		}
	} else if s.embedded != nil && s.embedded.ClientURL() != "" {
		if u := s.embedded.ClientURL(); u != defaultNATS {
			env = append(env, "TWIN_NATS="+u)
		}
		if s.g.data != defaultDataDir() {
			env = append(env, "TWIN_DATA="+s.g.data)
		}
	}
	if len(env) == 0 {
		return ""
	}
	line := "export " + strings.Join(env, " ")
	if gatewayRuns && (len(s.flags.gateway.tokens) > 0 || s.flags.gateway.jwtSecretFile != "") {
		line += "  (and TWIN_TOKEN: the API asks for a token)"
	}
	return line
}

// sampleFile is the sample the README's walkthrough imports, relative to
// the root of a checkout.
const sampleFile = "testdata/simonw-til/til-sample.jsonl"

// empty reports whether the warehouse holds no document at all; false
// when this process has no warehouse open or cannot tell.
func (s *system) empty(ctx context.Context) bool {
	if s.store == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	docs, err := s.store.List(ctx, warehouse.ListOptions{Limit: 1})
	return err == nil && len(docs) == 0
}

// emptyHint is the next step on an empty twin: import the sample posts,
// or crawl an author.
func emptyHint() string {
	where := ""
	if _, err := os.Stat(sampleFile); err != nil {
		where = " (from the root of a twin checkout)"
	}
	return "next     the twin is empty; import the sample posts" + where + ":\n" +
		"           twin import " + sampleFile + " --author \"Simon Willison\" --kind post --wait\n" +
		"         or crawl an author (needs the internet): twin crawl URL --author NAME --wait\n"
}
