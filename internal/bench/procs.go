package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/streams"
)

// Procs runs twin as separate processes of one binary on this machine, as
// docs/scale-out.md deploys it: a NATS cluster of `twin nats` members and
// `twin run` processes, all on one data dir. It is the harness of the
// multi-process test and of `twin bench chaos`: processes can be killed
// and started again on the same ports and arguments.
type Procs struct {
	bin, dir string
	replicas int
	natsURLs string
	log      io.Writer

	mu    sync.Mutex // guards procs
	procs map[string]*Proc
	order []string // in the order they were added, for Close
}

// Proc is one process of the harness.
type Proc struct {
	Name  string
	Kind  string // "nats" or "run"
	HTTP  string // host:port of its HTTP server, "" for none
	args  []string
	ready string // what its stdout says once it serves

	mu     sync.Mutex // guards cmd, exited, stderr, starts
	cmd    *exec.Cmd
	exited chan error
	stderr *tail
	starts int
}

// NewProcs prepares a harness with a cluster of nodes `twin nats` members
// (one for no cluster) on free loopback ports, streams at replicas;
// nothing runs until Start.
func NewProcs(bin, dir string, nodes, replicas int, log io.Writer) (*Procs, error) {
	p := &Procs{bin: bin, dir: dir, replicas: max(replicas, 1), log: log, procs: map[string]*Proc{}}
	clients, err := FreeAddrs(nodes)
	if err != nil {
		return nil, err
	}
	routes, err := FreeAddrs(nodes)
	if err != nil {
		return nil, err
	}
	var urls, routeURLs []string
	for i := range nodes {
		urls = append(urls, "nats://"+clients[i])
		routeURLs = append(routeURLs, "nats://"+routes[i])
	}
	p.natsURLs = strings.Join(urls, ",")
	for i := range nodes {
		name := "nats-" + strconv.Itoa(i+1)
		args := []string{"nats", "--data", dir, "--name", name, "--listen", clients[i], "--log-level", "warn"}
		if nodes > 1 {
			args = append(args, "--cluster", routes[i], "--routes", strings.Join(routeURLs, ","))
		}
		p.add(&Proc{Name: name, Kind: "nats", args: args, ready: "nats     nats://"})
	}
	return p, nil
}

// NATSURLs are the client URLs of every member, comma-separated.
func (p *Procs) NATSURLs() string { return p.natsURLs }

// Dir is the data dir every process shares.
func (p *Procs) Dir() string { return p.dir }

// AddRun adds a `twin run` process of components; with http it serves
// HTTP on a free loopback port. extra are more flags.
func (p *Procs) AddRun(name string, components []string, http bool, extra ...string) (*Proc, error) {
	addr := "off"
	if http {
		a, err := FreeAddrs(1)
		if err != nil {
			return nil, err
		}
		addr = a[0]
	}
	args := append([]string{"run"}, components...)
	args = append(args, "--data", p.dir, "--nats", p.natsURLs, "--stream-replicas", strconv.Itoa(p.replicas),
		"--http", addr, "--log-level", "warn")
	args = append(args, extra...)
	pr := &Proc{Name: name, Kind: "run", args: args, ready: "ready in"}
	if http {
		pr.HTTP = addr
	}
	p.add(pr)
	return pr, nil
}

// run is one `twin run` process of a cluster: its name, its components,
// whether it serves HTTP, and more flags.
type run struct {
	name  string
	comps []string
	http  bool
	extra []string
}

// startCluster starts three `twin nats` members (streams at R3) and runs
// on dir, waits until every one serves, and connects to the cluster. The
// caller closes the connection, then the processes; on an error nothing
// is left running.
func startCluster(ctx context.Context, bin, dir string, runs []run, log io.Writer) (*Procs, *nats.Conn, jetstream.JetStream, error) {
	procs, err := NewProcs(bin, dir, 3, 3, log)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range runs {
		if _, err := procs.AddRun(r.name, r.comps, r.http, r.extra...); err != nil {
			return nil, nil, nil, err
		}
	}
	fmt.Fprintf(log, "starting 3 NATS members and %d twin run processes...\n", len(runs))
	if err := procs.StartAll(ctx); err != nil {
		procs.Close()
		return nil, nil, nil, err
	}
	nc, js, err := procs.Connect()
	if err != nil {
		procs.Close()
		return nil, nil, nil, err
	}
	return procs, nc, js, nil
}

func (p *Procs) add(pr *Proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.procs[pr.Name] = pr
	p.order = append(p.order, pr.Name)
}

// Names lists the processes of kind ("" for all), in the order added.
func (p *Procs) Names(kind string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range p.order {
		if kind == "" || p.procs[n].Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// Proc returns the process called name, or nil.
func (p *Procs) Proc(name string) *Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.procs[name]
}

// StartAll starts every process not running, NATS members first and all
// at once (a cluster forms only when its members meet), then the others.
func (p *Procs) StartAll(ctx context.Context) error {
	for _, kind := range []string{"nats", "run"} {
		names := p.Names(kind)
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, n := range names {
			wg.Go(func() { errs[i] = p.Start(ctx, n) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the process name (again) and waits until it serves.
func (p *Procs) Start(ctx context.Context, name string) error {
	pr := p.Proc(name)
	if pr == nil {
		return fmt.Errorf("no process %q", name)
	}
	pr.mu.Lock()
	if pr.cmd != nil {
		pr.mu.Unlock()
		return fmt.Errorf("%s is running", name)
	}
	stdout := &tail{max: 64 << 10}
	pr.stderr = &tail{max: 64 << 10}
	cmd := exec.Command(p.bin, pr.args...)
	cmd.Stdout, cmd.Stderr = stdout, pr.stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		pr.mu.Unlock()
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pr.cmd, pr.exited = cmd, exited
	pr.starts++
	stderr := pr.stderr
	pr.mu.Unlock()

	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for !strings.Contains(stdout.String(), pr.ready) {
		select {
		case err := <-exited:
			exited <- err
			pr.mu.Lock()
			pr.cmd = nil
			pr.mu.Unlock()
			return fmt.Errorf("%s exited (%v) before it was ready: %s", name, err, lastLines(stderr.String(), 5))
		case <-deadline.C:
			_ = p.Kill(name)
			return fmt.Errorf("%s not ready after 2 minutes: %s", name, lastLines(stderr.String(), 5))
		case <-ctx.Done():
			_ = p.Kill(name)
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Kill ends the process name with SIGKILL, as a crash or the OOM killer
// does, and waits until it is gone. A process not running is no error.
func (p *Procs) Kill(name string) error {
	return p.signal(name, syscall.SIGKILL, 0)
}

// Stop ends the process name with SIGTERM and waits up to a minute for a
// clean exit; an exit with an error is returned.
func (p *Procs) Stop(name string) error {
	return p.signal(name, syscall.SIGTERM, time.Minute)
}

func (p *Procs) signal(name string, sig syscall.Signal, grace time.Duration) error {
	pr := p.Proc(name)
	if pr == nil {
		return fmt.Errorf("no process %q", name)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.cmd == nil {
		return nil
	}
	cmd, exited := pr.cmd, pr.exited
	pr.cmd = nil
	_ = cmd.Process.Signal(sig) // one already gone is collected below
	var err error
	if grace > 0 {
		select {
		case err = <-exited:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s did not stop within %s", name, grace)
		}
		if err != nil {
			return fmt.Errorf("%s: %w: %s", name, err, lastLines(pr.stderr.String(), 5))
		}
		return nil
	}
	<-exited
	return nil
}

// Running reports whether the process name runs.
func (p *Procs) Running(name string) bool {
	pr := p.Proc(name)
	if pr == nil {
		return false
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.cmd == nil {
		return false
	}
	select {
	case err := <-pr.exited:
		pr.exited <- err
		return false
	default:
		return true
	}
}

// Stderr is the end of what the process name wrote to stderr in its
// last run.
func (p *Procs) Stderr(name string) string {
	pr := p.Proc(name)
	if pr == nil {
		return ""
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.stderr == nil {
		return ""
	}
	return pr.stderr.String()
}

// PID is the process id of name, 0 when it does not run.
func (p *Procs) PID(name string) int {
	pr := p.Proc(name)
	if pr == nil {
		return 0
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.cmd == nil {
		return 0
	}
	return pr.cmd.Process.Pid
}

// Close stops every process: the `twin run` ones first, in reverse order,
// then the NATS members. It returns the errors of unclean exits.
func (p *Procs) Close() error {
	var errs []error
	for _, kind := range []string{"run", "nats"} {
		names := p.Names(kind)
		slices.Reverse(names)
		for _, n := range names {
			if err := p.Stop(n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Connect connects to the cluster as the operator (streams.RoleAdmin),
// with the credentials of the data dir.
func (p *Procs) Connect() (*nats.Conn, jetstream.JetStream, error) {
	opt, err := streams.CredentialsOption(streams.SeedFile(p.dir, streams.RoleAdmin))
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(p.natsURLs, opt, nats.Name("twin-bench"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// Client runs a client command of the binary against the cluster (its
// --data and --nats given) and returns what it printed.
func (p *Procs) Client(ctx context.Context, args ...string) (string, error) {
	args = append(args, "--data", p.dir, "--nats", p.natsURLs, "--log-level", "warn")
	out, err := exec.CommandContext(ctx, p.bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("twin %s: %w: %s", args[0], err, lastLines(string(out), 5))
	}
	return string(out), nil
}

// Idle reports whether the durable consumers names have nothing pending
// and nothing unacknowledged.
func Idle(ctx context.Context, js jetstream.JetStream, names ...string) (bool, error) {
	topo := streams.DefaultTopology()
	for _, n := range names {
		spec, ok := topo.Consumer(n)
		if !ok {
			return false, fmt.Errorf("no consumer %q in the topology", n)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := js.Consumer(cctx, spec.Stream, n)
		if err != nil {
			cancel()
			return false, err
		}
		info, err := c.Info(cctx)
		cancel()
		if err != nil {
			return false, err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return false, nil
		}
	}
	return true, nil
}

// FreeAddrs returns n loopback addresses whose ports were free a moment
// ago. The ports are taken below the range the system hands out to
// listeners on port 0 and to outgoing connections: twin's processes come
// back on their ports after a restart, and meanwhile a client that keeps
// dialing a port nothing listens on can be given that very port as its
// own and connect to itself (a TCP self-connect), or another program can
// listen there.
func FreeAddrs(n int) ([]string, error) {
	low := ephemeralLow()
	lo := max(1024, low-12000)
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for port, tries := lo+rand.IntN(low-lo), 0; len(out) < n; port, tries = port+1, tries+1 {
		if tries == low-lo {
			return nil, fmt.Errorf("no free port between %d and %d", lo, low)
		}
		if port >= low {
			port = lo
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// ephemeralLow is the first port of the system's ephemeral range (Linux
// says it in /proc; 32768 is its default and a safe guess elsewhere).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 2048 {
		return 32768
	}
	return low
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// lastLines is the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}
