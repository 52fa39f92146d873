package main

import (
	"time"

	"github.com/spf13/cobra"
)

func addServeFlags(cmd *cobra.Command, f *serveFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.http, "http", "127.0.0.1:8080", `HTTP listen address for the API, /metrics and health ("off" for none)`)
	fl.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics to anyone; by default it asks for the API's auth (--auth-token, --auth-jwt-secret-file), or only loopback clients without it")
	f.maxMemory, f.maxStore = 1<<30, 10<<30
	fl.Var(&f.maxMemory, "nats-max-memory", "embedded NATS: most memory JetStream may use")
	fl.Var(&f.maxStore, "nats-max-store", "embedded NATS: most disk JetStream may use; stream limits are scaled to fit")
	fl.IntVar(&f.replicas, "stream-replicas", 1, "replicas of every stream (3 on a NATS cluster)")
	fl.Var(&f.sync, "sync", "when writes reach the disk: always (the embedded JetStream store and SQLite sync every write before acknowledging it), warehouse (SQLite every commit, JetStream every second) or interval (both about every second); see docs/operations.md")
	fl.StringVar(&f.mongo, "mongo", "", "MongoDB URI of the warehouse (default: SQLite in the data dir)")
	fl.StringVar(&f.mongoDB, "mongo-db", "twin", "MongoDB database of the warehouse")

	addCrawlFlags(fl, &f.crawl)
	addCDCFlags(fl, &f.cdc)
	addVectorFlags(fl, &f.vectors)
	addChatFlags(fl, &f.chat)
	addGatewayFlags(fl, &f.gateway)
	addPolicyFlags(fl, &f.policy)
	addTrainerFlags(fl, &f.trainer)
}

func newUpCmd(g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run every component on embedded defaults",
		Long: `Run the whole twin in this process: an embedded NATS server with JetStream (store under
<data>/nats), the topology of streams and consumers, the HTTP server and every component.

It prints where each part listens, the page to open, the one setting client commands need
when they would not find it by default (export TWIN_SERVER=...), and on an empty twin the
command that fills it. Logs go to stderr: console lines on a terminal, JSON lines
otherwise (--log-format). Ctrl-C (or SIGTERM) stops it cleanly: consumers stop
fetching, finish what they hold and ack it. Starting again on the same --data resumes
where it stopped: messages and consumer positions survive. One process per data dir: a
second twin up on the same --data fails at once, naming the first one's pid.

The embedded NATS server asks every client for credentials. The first start makes them in
<data>/nats-auth (owner-only; one nkey seed per role: system, admin, publisher), later
starts reuse them, and client commands on this machine find them through --data. /metrics
asks for the API's auth (--auth-token) unless --metrics-public. See docs/security.md.

With --nats URL, an external NATS server is used instead of the embedded one.`,
		Example: `  twin up
  twin up --data /var/lib/twin --http :8080
  twin up --nats-listen off          # no NATS port, in-process only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, g, f, nil)
		},
	}
	addServeFlags(cmd, &f)
	cmd.Flags().StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", `embedded NATS: address for outside clients such as the nats CLI ("off" for none)`)
	return cmd
}

func newRunCmd(g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "run COMPONENT...",
		Short: "Run chosen components against a NATS server (for scale-out)",
		Long: `Run only the named components in this process, against the NATS server given by --nats
(default ` + defaultNATS + `). Use it when a deployment outgrows one machine: run each
component as many times as its load needs; consumers share work through their durable
names. The topology is applied at start, idempotently. Against the NATS of a twin up on
another machine, give its system credentials: --nats-creds <data>/nats-auth/system.nk.

Components: ` + componentNames(components()),
		Example: `  twin run gateway --nats nats://nats:4222 --http :8080
  twin run embedder --nats nats://twin-host:4222 --nats-creds /etc/twin/system.nk`,
		Args: minArgs(1, "the components to run, e.g. twin run gateway (the components: "+componentNames(components())+")"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.nats == "" {
				g.nats = defaultNATS
			}
			return serve(cmd, g, f, args)
		},
	}
	addServeFlags(cmd, &f)
	return cmd
}

// serve starts a system with the named components (all for none) and runs
// it until the command's context ends.
func serve(cmd *cobra.Command, g *globals, f serveFlags, names []string) error {
	comps, err := pickComponents(names)
	if err != nil {
		return err
	}
	if err := checkComponents(comps, f); err != nil {
		return err
	}
	began := time.Now()
	release, err := lockOnce(g.data, comps, f)
	if err != nil {
		return err
	}
	defer release()
	if g.nats != "" {
		f.sync.noteExternal(g.log)
	}
	s, err := start(cmd.Context(), g, f)
	if err != nil {
		return err
	}
	return s.serve(cmd.Context(), comps, began)
}
