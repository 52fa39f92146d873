package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/bench"
)

func newBenchChatCmd(g *globals) *cobra.Command {
	var c, n, docs, idle int
	var think time.Duration
	var asJSON bool
	var cpuProfile string
	var syncFlag syncMode
	cmd := &cobra.Command{
		Use:     "chat",
		Short:   "Measure chat latency and memory per idle WebSocket connection",
		Example: `  twin bench chat -c 50 -n 1000`,
		Long: `Run an embedded twin in a temporary directory with --docs generated documents indexed,
then, from a second process (so that the server's memory is measured alone):

  - latency: -n questions asked over -c concurrent WebSocket connections, each timed from
    the ask to its first token and to its done message, with the embedded extractive LLM
    and lexical reranker: p50 and p99 of both;
  - memory: --idle idle WebSocket connections opened to the gateway, and the server's heap
    and stack growth divided by their number.

Targets on 2 cores: first token p99 <= 50 ms at 50 clients; <= 30 KB per idle connection.
The client process needs --idle file descriptors (ulimit -n).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop, err := bench.StartCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			res, err := bench.Chat(cmd.Context(), bench.ChatConfig{Start: g.startBench, Sync: syncFlag.String(),
				Clients: c, Questions: n, Docs: docs, Think: think, Idle: idle, ClientArgs: benchClientArgs, Log: g.stderr})
			stop()
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(res)
			}
			fmt.Fprintf(g.stdout, "chat over %d connections, %d questions, think time %s, %d documents indexed, sync %s\n",
				res.Clients, res.Questions, res.Think, res.Docs, res.Sync)
			fmt.Fprintf(g.stdout, "first token   p50 %-9s p99 %s\n", res.FirstTokenP50, res.FirstTokenP99)
			fmt.Fprintf(g.stdout, "whole answer  p50 %-9s p99 %s   (%.0f answers/s)\n", res.TotalP50, res.TotalP99, res.AnswersPerSec)
			if res.Errors > 0 {
				fmt.Fprintf(g.stdout, "errors        %d questions unanswered\n", res.Errors)
			}
			if res.Idle > 0 {
				fmt.Fprintf(g.stdout, "idle connections %d: %.1f KB each on the server (heap %.1f KB + stacks %.1f KB)\n",
					res.Idle, res.IdleKBPerConn, res.IdleHeapKB, res.IdleStackKB)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&c, "clients", "c", 50, "concurrent chat connections")
	fl.IntVarP(&n, "questions", "n", 1000, "questions asked in all")
	fl.IntVar(&docs, "docs", 2000, "generated 4 KB documents indexed before the run")
	fl.DurationVar(&think, "think", 0, "pause of each client between an answer and its next question (0: ask at once, a closed loop at saturation)")
	fl.IntVar(&idle, "idle", 10000, "idle connections for the memory measurement (0: none)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	fl.Var(&syncFlag, "sync", "as twin up --sync: always, warehouse or interval")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the server side to this file (go tool pprof)")
	return cmd
}

// benchClientArgs run newBenchChatClientsCmd in the client process.
var benchClientArgs = []string{"bench", "chat-clients", "--log-level", "error"}

// newBenchChatClientsCmd is the client side of `twin bench chat`, run in
// its own process; hidden, since only the benchmark calls it.
func newBenchChatClientsCmd(g *globals) *cobra.Command {
	var url string
	var c, n, idle int
	var think time.Duration
	cmd := &cobra.Command{
		Use:    "chat-clients",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.Clients(cmd.Context(), cmd.InOrStdin(), g.stdout, bench.ClientSpec{URL: url, Clients: c, Questions: n, Idle: idle, Think: think})
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "WebSocket URL of /v1/chat")
	cmd.Flags().IntVarP(&c, "clients", "c", 50, "")
	cmd.Flags().IntVarP(&n, "questions", "n", 1000, "")
	cmd.Flags().IntVar(&idle, "idle", 0, "")
	cmd.Flags().DurationVar(&think, "think", 0, "")
	return cmd
}
