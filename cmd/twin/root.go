package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/internal/config"
	"github.com/twin-llm/twin/internal/logging"
)

// Defaults a client uses to find a running system.
const (
	defaultServer = "http://127.0.0.1:8080"
	defaultNATS   = "nats://127.0.0.1:4222"
)

// globals are the settings every subcommand shares.
type globals struct {
	configFile string
	logFormat  string
	logLevel   string
	server     string
	token      string
	nats       string
	natsCreds  string
	natsToken  string
	data       string
	// dataSet: --data came from the command line, the environment or the
	// config file, and wins over the data dir a gateway tells.
	dataSet bool
	// natsFound and natsData are what the gateway told a client command
	// (GET /v1/connect): its NATS URL and, on the same machine, the data
	// dir holding the credentials; lookupErr says why it told nothing.
	natsFound, natsData string
	lookupErr           error

	stdout, stderr io.Writer
	getenv         func(string) string
	log            zerolog.Logger
}

// natsURL is the server a client subcommand talks to.
func (g *globals) natsURL() string {
	if g.nats != "" {
		return g.nats
	}
	if g.natsFound != "" {
		return g.natsFound
	}
	return defaultNATS
}

// errSilent ends a command with a non-zero exit after it already said why.
// A mistake in the command line (usageError) exits 2, any other failure 1.
var errSilent = errors.New("")

func execute(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	g := &globals{stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(stderr, "twin:", err)
		}
		if isUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "twin",
		Short: "An LLM Twin: crawl an author, answer in their voice, learn from feedback",
		Example: `  twin up
  twin import til.jsonl --author "Simon Willison" --wait
  twin chat "How do I find Apache Bench errors?"`,
		Long: `twin builds an "LLM Twin" of an author. It crawls what the author published into a
warehouse, turns every change into retrieval features within a second, answers chat
questions in the author's voice, and turns feedback into training data. Every step is a
NATS JetStream consumer; this one binary holds them all.

Start everything on embedded defaults with "twin up"; the other commands are clients of
a running system, found through --server (its HTTP gateway), which also tells them where
its NATS listens (--nats overrides that). NATS always asks for credentials: twin up makes
them at its first start and keeps them in <data>/nats-auth, where client commands on the
same machine find them; elsewhere give --nats-creds FILE (see docs/security.md).

Every flag can also be set with an environment variable TWIN_<FLAG> (--nats-listen is
TWIN_NATS_LISTEN) or a key in the YAML file given by --config (nats-listen: ...).
Flags win over the environment, the environment over the file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.load(cmd)
		},
	}
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", "", "YAML file of settings, keyed by flag name (see twin.example.yaml)")
	pf.StringVar(&g.logFormat, "log-format", logging.Auto, "log format: auto (console lines when stderr is a terminal, JSON lines otherwise), json or console")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	pf.StringVar(&g.server, "server", defaultServer, "URL of a running twin's HTTP gateway, for client commands")
	pf.StringVar(&g.token, "token", "", "bearer token (or JWT) that client commands send to a gateway started with auth")
	pf.StringVar(&g.nats, "nats", "", "NATS server URL; client commands default to the one the gateway (--server) names, else "+defaultNATS+",\nwhile up and run use this server instead of the embedded one")
	pf.StringVar(&g.natsCreds, "nats-creds", "", "NATS credentials file: a .creds file (user JWT and seed) or an nkey seed;\nby default the ones twin up keeps in <data>/nats-auth are used")
	pf.StringVar(&g.natsToken, "nats-token", "", "NATS authentication token, for a server that uses tokens\n(a user and password go in the URL: nats://user:pass@host:4222)")
	pf.StringVar(&g.data, "data", defaultDataDir(), "data directory (embedded NATS store and its credentials, warehouse, vectors)")

	up, run := newUpCmd(g), newRunCmd(g)
	useGroupedHelp(up, false)
	useGroupedHelp(run, true)
	root.AddCommand(up, run, newCrawlCmd(g), newImportCmd(g), newDocsCmd(g), newExtractCmd(g),
		newSearchCmd(g), newChatCmd(g), newReindexCmd(g), newEvalCmd(g), newBenchCmd(g),
		newStatusCmd(g), newDLQCmd(g), newStreamsCmd(g), newVersionCmd(g),
		newTrainCmd(g), newModelsCmd(g))
	root.AddCommand(newFeedbackCmd(g))
	root.AddCommand(newTracesCmd(g))
	root.AddCommand(newDatasetCmd(g))
	root.AddCommand(newNATSCmd(g))
	return root
}

// load resolves the settings of cmd from its flags, the environment and the
// config file, then builds the logger.
func (g *globals) load(cmd *cobra.Command) error {
	file := map[string]string{}
	path := g.configFile
	if !cmd.Flags().Changed("config") {
		path = g.getenv(config.EnvName("config"))
	}
	if path != "" {
		var err error
		if file, err = config.ReadFile(path); err != nil {
			return err
		}
	}
	if err := config.Apply(cmd.Flags(), file, g.getenv, knownFlags(cmd.Root())); err != nil {
		return err
	}
	_, inFile := file["data"]
	g.dataSet = cmd.Flags().Changed("data") || g.getenv(config.EnvName("data")) != "" || inFile
	log, err := logging.New(g.stderr, g.logFormat, g.logLevel)
	if err != nil {
		return err
	}
	g.log = log
	return nil
}

// knownFlags reports whether name is a flag of any twin command.
func knownFlags(root *cobra.Command) func(string) bool {
	names := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { names[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return func(name string) bool { return names[name] }
}

// defaultDataDir is $XDG_DATA_HOME/twin, else ~/.local/share/twin, else
// ./twin-data when there is no home.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "twin")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "twin")
	}
	return "twin-data"
}
