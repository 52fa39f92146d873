package bench

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
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/producers/progress"
)

// ChatResult is what `twin bench chat` reports.
type ChatResult struct {
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

// ClientReport is what the client process prints: its latencies.
type ClientReport struct {
	FirstToken []time.Duration `json:"first_token"`
	Total      []time.Duration `json:"total"`
	Wall       time.Duration   `json:"wall"`
	Errors     int             `json:"errors"`
	FirstError string          `json:"first_error,omitempty"`
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
func chatClients(ctx context.Context, url string, c, n int, think time.Duration) ClientReport {
	var mu sync.Mutex
	var rep ClientReport
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
				q := fmt.Sprintf("What do you say about %s and %s %s?", words[rng.IntN(len(words))],
					words[rng.IntN(len(words))], words[rng.IntN(len(words))])
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
func runClients(ctx context.Context, clientArgs []string, url string, c, n, idle int, think time.Duration) (rep ClientReport, idleOpen func() error, release func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return rep, nil, nil, err
	}
	args := append(slices.Clone(clientArgs), "--url", url, "-c", strconv.Itoa(c),
		"-n", strconv.Itoa(n), "--idle", strconv.Itoa(idle), "--think", think.String())
	cmd := exec.CommandContext(ctx, exe, args...)
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

// ChatConfig is one chat run.
type ChatConfig struct {
	Start Starter
	Sync  string // the --sync mode
	// Clients connections ask Questions in all, each pausing Think between
	// an answer and its next question, with Docs documents indexed.
	Clients, Questions, Docs int
	Think                    time.Duration
	Idle                     int // idle connections for the memory measurement; 0: none
	// ClientArgs run the client side (Clients) when given to this
	// executable, before the flags --url, -c, -n, --idle and --think.
	ClientArgs []string
	Log        io.Writer // what the run is doing
}

// Chat runs a system with the documents indexed, then the client process.
func Chat(ctx context.Context, cfg ChatConfig) (ChatResult, error) {
	c, n, docs, idle, think, log := cfg.Clients, cfg.Questions, cfg.Docs, cfg.Idle, cfg.Think, cfg.Log
	res := ChatResult{Sync: cfg.Sync, Clients: c, Questions: n, Docs: docs, Idle: idle, Think: think.String()}
	s, err := cfg.Start(ctx, Spec{Sync: cfg.Sync, MaxStore: 4 << 30, HTTP: true, RagWorkers: max(c, 1)})
	if err != nil {
		return res, err
	}
	defer s.Close()
	store, err := s.Warehouse(ctx)
	if err != nil {
		return res, err
	}
	if err := s.Run(ctx, "cdc", "featurizer", "embedder", "rag", "gateway", "monitor"); err != nil {
		return res, err
	}

	fmt.Fprintf(log, "indexing %d documents...\n", docs)
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[string]int64{} // document → the revision to wait for
	for i := 0; i < docs; i += 500 {
		batch := make([]warehouse.Document, 0, 500)
		for j := i; j < min(i+500, docs); j++ {
			batch = append(batch, generated(rng, "chat", j))
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
	err = progress.Indexed(ictx, s.JetStream(), want, nil, &progress.Retrier{Out: log})
	cancelIndexing()
	if err != nil {
		return res, fmt.Errorf("indexing: %w", err)
	}

	fmt.Fprintf(log, "%d questions over %d connections...\n", n, c)
	url := "ws://" + s.HTTPAddr() + "/v1/chat"
	heap0, stack0 := heapAndStacks()
	rep, idleOpen, release, err := runClients(ctx, cfg.ClientArgs, url, c, n, idle, think)
	if err != nil {
		return res, err
	}
	defer release()
	res.Errors = rep.Errors
	if rep.FirstError != "" {
		fmt.Fprintln(log, "first error:", rep.FirstError)
	}
	res.FirstTokenP50 = Percentile(rep.FirstToken, .50).Round(10 * time.Microsecond).String()
	res.FirstTokenP99 = Percentile(rep.FirstToken, .99).Round(10 * time.Microsecond).String()
	res.TotalP50 = Percentile(rep.Total, .50).Round(10 * time.Microsecond).String()
	res.TotalP99 = Percentile(rep.Total, .99).Round(10 * time.Microsecond).String()
	res.AnswersPerSec = float64(len(rep.Total)) / rep.Wall.Seconds()

	if idle > 0 {
		fmt.Fprintf(log, "%d idle connections...\n", idle)
		// The baseline is taken after the latency run's connections are
		// gone, so only the idle ones count.
		if err := waitFor(ctx, time.Minute, func() bool { return s.ChatConnections() == 0 }); err != nil {
			return res, fmt.Errorf("latency connections still open: %w", err)
		}
		heap0, stack0 = heapAndStacks()
		if err := idleOpen(); err != nil {
			return res, err
		}
		if err := waitFor(ctx, time.Minute, func() bool { return s.ChatConnections() >= idle }); err != nil {
			return res, fmt.Errorf("%d of %d idle connections registered: %w", s.ChatConnections(), idle, err)
		}
		heap1, stack1 := heapAndStacks()
		res.IdleHeapKB = (float64(heap1) - float64(heap0)) / float64(idle) / 1024
		res.IdleStackKB = (float64(stack1) - float64(stack0)) / float64(idle) / 1024
		res.IdleKBPerConn = res.IdleHeapKB + res.IdleStackKB
	}
	return res, nil
}

// ClientSpec is the work of the client process.
type ClientSpec struct {
	URL                string // WebSocket URL of /v1/chat
	Clients, Questions int
	Idle               int
	Think              time.Duration
}

// Clients is the client process of Chat: it asks the questions, prints
// its ClientReport as one JSON line on out, and with Idle > 0, once a line
// arrives on in (after the benchmark's memory baseline), opens the idle
// connections, says "idle-open" and holds them until in ends.
func Clients(ctx context.Context, in io.Reader, out io.Writer, spec ClientSpec) error {
	rep := chatClients(ctx, spec.URL, spec.Clients, spec.Questions, spec.Think)
	if err := json.NewEncoder(out).Encode(rep); err != nil {
		return err
	}
	if spec.Idle <= 0 {
		return nil
	}
	lines := bufio.NewReader(in)
	if _, err := lines.ReadString('\n'); err != nil {
		return nil
	}
	conns, err := dialIdle(ctx, spec.URL, spec.Idle)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "idle-open")
	_, _ = lines.ReadString('\n')
	return nil
}
