package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/progress"
)

func newBenchChatCmd(g *globals) *cobra.Command {
	var c, n, docs, idle int
	var think time.Duration
	var asJSON bool
	var cpuProfile string
	var syncFlag syncMode
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Measure chat latency and memory per idle WebSocket connection",
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
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			res, err := benchChat(cmd.Context(), g, c, n, docs, idle, think, syncFlag)
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

// chatBenchResult is what `twin bench chat` reports.
type chatBenchResult struct {
	Sync          string  `json:"sync"`
	Clients       int     `json:"clients"`
	Questions     int     `json:"questions"`
	Docs          int     `json:"docs"`
	Think         string  `json:"think"`
	FirstTokenP50 string  `json:"first_token_p50"`
	FirstTokenP99 string  `json:"first_token_p99"`
	TotalP50      string  `json:"total_p50"`
	TotalP99      string  `json:"total_p99"`
	AnswersPerSec float64 `json:"answers_per_sec"`
	Errors        int     `json:"errors"`
	Idle          int     `json:"idle"`
	IdleKBPerConn float64 `json:"idle_kb_per_conn"`
	IdleHeapKB    float64 `json:"idle_heap_kb_per_conn"`
	IdleStackKB   float64 `json:"idle_stack_kb_per_conn"`
}

// clientReport is what the client process prints: its latencies.
type clientReport struct {
	FirstToken []time.Duration `json:"first_token"`
	Total      []time.Duration `json:"total"`
	Wall       time.Duration   `json:"wall"`
	Errors     int             `json:"errors"`
	FirstError string          `json:"first_error,omitempty"`
}

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
			ctx := cmd.Context()
			rep := chatClients(ctx, url, c, n, think)
			if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
				return err
			}
			if idle <= 0 {
				return nil
			}
			// The benchmark says when: after its baseline.
			in := bufio.NewReader(cmd.InOrStdin())
			if _, err := in.ReadString('\n'); err != nil {
				return nil
			}
			conns, err := dialIdle(ctx, url, idle)
			defer func() {
				for _, c := range conns {
					c.CloseNow()
				}
			}()
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "idle-open")
			// Hold them until the benchmark closes our stdin.
			_, _ = in.ReadString('\n')
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "WebSocket URL of /v1/chat")
	cmd.Flags().IntVarP(&c, "clients", "c", 50, "")
	cmd.Flags().IntVarP(&n, "questions", "n", 1000, "")
	cmd.Flags().IntVar(&idle, "idle", 0, "")
	cmd.Flags().DurationVar(&think, "think", 0, "")
	return cmd
}

// dialIdle opens n connections that ask nothing, a few dials at a time.
// Each answers the server's pings (CloseRead reads for it), as a browser
// tab left open does.
func dialIdle(ctx context.Context, url string, n int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					errs[i] = fmt.Errorf("idle connection %d: %w", i+1, err)
					continue
				}
				c.CloseRead(context.WithoutCancel(ctx))
				conns[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	var open []*websocket.Conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, errors.Join(errs...)
}

// chatClients asks n questions over c connections and times each answer.
func chatClients(ctx context.Context, url string, c, n int, think time.Duration) clientReport {
	var mu sync.Mutex
	var rep clientReport
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		rep.Errors++
		if rep.FirstError == "" {
			rep.FirstError = err.Error()
		}
	}
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			conn, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				fail(err)
				return
			}
			defer conn.CloseNow()
			conn.SetReadLimit(8 << 20)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			// Clients start spread over one think time, as people do.
			if think > 0 {
				time.Sleep(time.Duration(rng.Int64N(int64(think))))
			}
			for i := range next {
				id := "bench" + strconv.Itoa(i)
				q := fmt.Sprintf("What do you say about %s and %s %s?", benchWords[rng.IntN(len(benchWords))],
					benchWords[rng.IntN(len(benchWords))], benchWords[rng.IntN(len(benchWords))])
				first, total, err := timeAnswer(ctx, conn, id, q)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				rep.FirstToken = append(rep.FirstToken, first)
				rep.Total = append(rep.Total, total)
				mu.Unlock()
				time.Sleep(think)
			}
		})
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	return rep
}

// timeAnswer asks one question and times its first token and its done.
func timeAnswer(ctx context.Context, conn *websocket.Conn, id, q string) (first, total time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := wsjson.Write(ctx, conn, gateway.ClientMessage{Type: gateway.MsgAsk, ID: id, Query: q}); err != nil {
		return 0, 0, err
	}
	for {
		var f gateway.ServerMessage
		if err := wsjson.Read(ctx, conn, &f); err != nil {
			return 0, 0, err
		}
		if f.ID != id {
			continue
		}
		switch f.Type {
		case gateway.MsgToken:
			if first == 0 {
				first = time.Since(t0)
			}
		case gateway.MsgDone:
			if first == 0 {
				first = time.Since(t0)
			}
			return first, time.Since(t0), nil
		case gateway.MsgError:
			return 0, 0, fmt.Errorf("%s: %s", f.Code, f.Message)
		}
	}
}

// heapAndStacks is the memory the server holds, after a collection.
func heapAndStacks() (heap, stack uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

// runClients starts the client process and returns its report once the
// latency run is over; idleOpen then has it open its idle connections and
// returns once they are, and release ends it.
func runClients(ctx context.Context, url string, c, n, idle int, think time.Duration) (rep clientReport, idleOpen func() error, release func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return rep, nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "chat-clients", "--url", url, "-c", strconv.Itoa(c),
		"-n", strconv.Itoa(n), "--idle", strconv.Itoa(idle), "--think", think.String(), "--log-level", "error")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return rep, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return rep, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return rep, nil, nil, err
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 64<<20)
	if !lines.Scan() {
		_ = cmd.Wait()
		return rep, nil, nil, errors.New("the client process ended without a report")
	}
	if err := json.Unmarshal(lines.Bytes(), &rep); err != nil {
		return rep, nil, nil, fmt.Errorf("client report: %w", err)
	}
	idleOpen = func() error {
		if idle <= 0 {
			return nil
		}
		if _, err := io.WriteString(stdin, "open\n"); err != nil {
			return err
		}
		if !lines.Scan() || lines.Text() != "idle-open" {
			return fmt.Errorf("the client process could not open %d idle connections", idle)
		}
		return nil
	}
	release = func() error {
		stdin.Close()
		return cmd.Wait()
	}
	return rep, idleOpen, release, nil
}

// benchChat runs the system with docs indexed, then the client process.
func benchChat(ctx context.Context, g *globals, c, n, docs, idle int, think time.Duration, mode syncMode) (chatBenchResult, error) {
	res := chatBenchResult{Sync: mode.String(), Clients: c, Questions: n, Docs: docs, Idle: idle, Think: think.String()}
	f := serveFlags{http: "127.0.0.1:0", maxStore: 4 << 30, sync: mode,
		features: featureFlags{cdcMode: "tail", embedModel: "hashed", searchMode: "auto"}}
	f.chat = defaultChatFlags()
	f.chat.workers = max(c, 1)
	// Every client of the benchmark asks back to back from loopback.
	f.gateway = gatewayFlags{maxConns: -1, askRate: -1, ipAskRate: -1}
	s, stop, err := startBenchSystem(ctx, g, f)
	if err != nil {
		return res, err
	}
	defer stop()
	store, err := s.warehouse(ctx)
	if err != nil {
		return res, err
	}

	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	ready := make(chan struct{}, 8)
	comps := []func(context.Context, *system, zerolog.Logger, func()) error{runCDC, runFeaturizer, runEmbedder, runRag, runGateway, runMonitor}
	for _, run := range comps {
		wg.Go(func() {
			if err := run(cctx, s, zerolog.Nop(), func() { ready <- struct{}{} }); err != nil && cctx.Err() == nil {
				fmt.Fprintln(g.stderr, "component:", err)
			}
		})
	}
	for range comps {
		select {
		case <-ready:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}

	fmt.Fprintf(g.stderr, "indexing %d documents...\n", docs)
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[string]int64{} // document → the revision to wait for
	for i := 0; i < docs; i += 500 {
		batch := make([]warehouse.Document, 0, 500)
		for j := i; j < min(i+500, docs); j++ {
			batch = append(batch, benchDoc(rng, "chat", j))
		}
		results, err := store.Upsert(ctx, batch)
		if err != nil {
			return res, err
		}
		for k, r := range results {
			want[batch[k].ID] = r.Revision
		}
	}
	ictx, cancelIndexing := context.WithTimeout(ctx, 10*time.Minute)
	err = progress.Indexed(ictx, s.js, want, nil, &progress.Retrier{Out: g.stderr})
	cancelIndexing()
	if err != nil {
		return res, fmt.Errorf("indexing: %w", err)
	}

	fmt.Fprintf(g.stderr, "%d questions over %d connections...\n", n, c)
	url := "ws://" + s.httpAddr + "/v1/chat"
	heap0, stack0 := heapAndStacks()
	rep, idleOpen, release, err := runClients(ctx, url, c, n, idle, think)
	if err != nil {
		return res, err
	}
	defer release()
	res.Errors = rep.Errors
	if rep.FirstError != "" {
		fmt.Fprintln(g.stderr, "first error:", rep.FirstError)
	}
	res.FirstTokenP50 = percentile(rep.FirstToken, .50).Round(10 * time.Microsecond).String()
	res.FirstTokenP99 = percentile(rep.FirstToken, .99).Round(10 * time.Microsecond).String()
	res.TotalP50 = percentile(rep.Total, .50).Round(10 * time.Microsecond).String()
	res.TotalP99 = percentile(rep.Total, .99).Round(10 * time.Microsecond).String()
	res.AnswersPerSec = float64(len(rep.Total)) / rep.Wall.Seconds()

	if idle > 0 {
		fmt.Fprintf(g.stderr, "%d idle connections...\n", idle)
		// The baseline is taken after the latency run's connections are
		// gone, so only the idle ones count.
		if err := waitFor(ctx, time.Minute, func() bool { return s.gatewayConnections() == 0 }); err != nil {
			return res, fmt.Errorf("latency connections still open: %w", err)
		}
		heap0, stack0 = heapAndStacks()
		if err := idleOpen(); err != nil {
			return res, err
		}
		if err := waitFor(ctx, time.Minute, func() bool { return s.gatewayConnections() >= idle }); err != nil {
			return res, fmt.Errorf("%d of %d idle connections registered: %w", s.gatewayConnections(), idle, err)
		}
		heap1, stack1 := heapAndStacks()
		res.IdleHeapKB = (float64(heap1) - float64(heap0)) / float64(idle) / 1024
		res.IdleStackKB = (float64(stack1) - float64(stack0)) / float64(idle) / 1024
		res.IdleKBPerConn = res.IdleHeapKB + res.IdleStackKB
	}
	return res, nil
}
