package gateway

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twin-llm/twin/internal/testwait"
)

// Environment of the helper process that holds the idle clients.
const (
	idleClientsURL = "TWIN_GATEWAY_IDLE_CLIENTS_URL"
	idleClientsN   = "TWIN_GATEWAY_IDLE_CLIENTS_N"
	// memConnsEnv overrides how many idle connections the memory test
	// opens (default 2,000; the design target is 10,000).
	memConnsEnv = "TWIN_GATEWAY_MEMTEST_CONNS"
)

// maxIdleConnBytes is the budget of one idle chat connection on the
// server: 10,000 of them in 300 MB.
const maxIdleConnBytes = 30 << 10

// TestIdleConnectionMemory measures what an idle chat connection costs
// the gateway: heap in use plus goroutine stacks, before and after N
// connections, divided by N. The clients live in another process (this
// test binary, re-run as TestIdleClientsHelper) so that none of their
// memory is counted.
func TestIdleConnectionMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what memory costs")
	}
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	n := 2000
	if v := os.Getenv(memConnsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive number", memConnsEnv, v)
		}
	}
	// Pings never fire during the measurement; their timer is counted.
	st := startStack(t, Config{Chat: ChatConfig{PingInterval: time.Hour, MaxConns: -1}}, nil)
	before := settledMemory()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleClientsURL+"="+st.wsURL(""), idleClientsN+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the helper exits when its stdin closes
		_ = cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); len(line) > 5 && line[:5] == "ready" {
				ready <- line
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatal("the client helper exited before opening its connections")
		}
		t.Log("helper:", line)
	case <-time.After(3 * time.Minute):
		t.Fatal("the client helper did not open its connections in time")
	}
	testwait.Until(t, time.Minute, strconv.Itoa(n)+" connections", func() bool { return st.g.Connections() == n })
	after := settledMemory()

	heap := (float64(after.HeapInuse) - float64(before.HeapInuse)) / float64(n)
	stack := (float64(after.StackInuse) - float64(before.StackInuse)) / float64(n)
	live := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	goroutines := float64(after.goroutines-before.goroutines) / float64(n)
	t.Logf("%d idle connections: %.0f B heap in use + %.0f B stack = %.1f KB each (live heap %.0f B, %.2f goroutines each)",
		n, heap, stack, (heap+stack)/1024, live, goroutines)
	if heap+stack > maxIdleConnBytes {
		t.Fatalf("an idle connection costs %.1f KB, over the budget of %d KB", (heap+stack)/1024, maxIdleConnBytes>>10)
	}
	if goroutines > 1.05 {
		t.Fatalf("an idle connection holds %.2f goroutines, want 1 (its reader)", goroutines)
	}
}

type memSample struct {
	runtime.MemStats
	goroutines int
}

// settledMemory reads memory after collecting garbage twice, the second
// time to empty the sync.Pools' victim caches.
func settledMemory() memSample {
	runtime.GC()
	runtime.GC()
	var s memSample
	runtime.ReadMemStats(&s.MemStats)
	s.goroutines = runtime.NumGoroutine()
	return s
}

// TestIdleClientsHelper is the client side of TestIdleConnectionMemory,
// run in a process of its own; alone it does nothing.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv(idleClientsURL)
	if url == "" {
		t.Skip("run by TestIdleConnectionMemory")
	}
	n, err := strconv.Atoi(os.Getenv(idleClientsN))
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, _, err := websocket.Dial(ctx, url, nil)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fmt.Printf("ready %d connections\n", n)
	// Hold them, idle, until the parent closes stdin.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range conns {
		_ = c.CloseNow()
	}
}
