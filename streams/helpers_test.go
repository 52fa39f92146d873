package streams

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// testEnv is a real embedded JetStream server with a small topology: the
// stream TEST (limits) and TESTQ (work queue) beside the real DLQ.
type testEnv struct {
	dir  string
	srv  *Server
	nc   *nats.Conn
	js   jetstream.JetStream
	topo Topology
	reg  *prometheus.Registry
	rt   *Runtime
	pub  *Publisher
}

func testTopology(consumers ...ConsumerSpec) Topology {
	dlq, _ := DefaultTopology().Stream(StreamDLQ)
	dlq.MaxBytes = 64 * mib
	return Topology{
		Replicas: 1,
		Streams: []StreamSpec{
			{Name: "TEST", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: 64 * mib, MaxMsgSize: mib, Duplicates: time.Minute},
			{Name: "TESTQ", Subjects: []string{"testq.>"}, WorkQueue: true, MaxAge: time.Hour, MaxBytes: 64 * mib, MaxMsgSize: mib, Duplicates: time.Minute},
			dlq,
		},
		Consumers: consumers,
	}
}

// consumerSpec is a test consumer on TESTQ with quick timings.
func consumerSpec(name string, maxDeliver int) ConsumerSpec {
	return ConsumerSpec{Name: name, Stream: "TESTQ", FilterSubject: "testq.>", AckWait: 2 * time.Second, MaxDeliver: maxDeliver, MaxAckPending: 1000}
}

func newTestEnv(t testing.TB, topo Topology) *testEnv {
	t.Helper()
	return newTestEnvAt(t, t.TempDir(), topo)
}

// newTestEnvAt starts a server on dir; the test's cleanup stops it.
func newTestEnvAt(t testing.TB, dir string, topo Topology) *testEnv {
	t.Helper()
	e := &testEnv{dir: dir, topo: topo}
	var err error
	e.srv, err = StartServer(ServerConfig{DataDir: dir, MaxMemory: 64 * mib, MaxStore: 1 * gib, Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	e.nc, err = e.srv.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	e.js, err = jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := topo.Apply(ctx, e.js); err != nil {
		t.Fatalf("apply: %v", err)
	}
	e.reg = prometheus.NewRegistry()
	e.rt = NewRuntime(e.js, topo, NewMetrics(e.reg), testLogger(t))
	e.pub = NewPublisher(e.js)
	t.Cleanup(e.stop)
	return e
}

func (e *testEnv) stop() {
	if e.nc != nil {
		e.nc.Close()
		e.nc = nil
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv = nil
	}
}

// publishRaw stores body on subject with an optional msg id.
func (e *testEnv) publishRaw(t testing.TB, subject, msgID string, body []byte) *jetstream.PubAck {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	if msgID != "" {
		m.Header.Set("Nats-Msg-Id", msgID)
	}
	ack, err := e.js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	return ack
}

// publishRawWithHeader is publishRaw with one extra header.
func (e *testEnv) publishRawWithHeader(t testing.TB, subject, msgID, key, value string, body []byte) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set("Nats-Msg-Id", msgID)
	m.Header.Set(key, value)
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// run starts consumer name with h and returns the function that stops it
// and waits for Run to return.
func (e *testEnv) run(t testing.TB, name string, h Handler, opts ...Option) (stop func()) {
	t.Helper()
	return e.start(t, func(ctx context.Context, opts []Option) error { return e.rt.Run(ctx, name, h, opts...) }, opts)
}

// runBatch is run for a batch handler.
func (e *testEnv) runBatch(t testing.TB, name string, h BatchHandler, opts ...Option) (stop func()) {
	t.Helper()
	return e.start(t, func(ctx context.Context, opts []Option) error { return e.rt.RunBatch(ctx, name, h, opts...) }, opts)
}

func (e *testEnv) start(t testing.TB, run func(context.Context, []Option) error, opts []Option) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts = append([]Option{Backoff(10*time.Millisecond, 50*time.Millisecond), Heartbeat(time.Second)}, opts...)
	go func() { done <- run(ctx, opts) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return 15s after stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func (e *testEnv) consumerInfo(t testing.TB, stream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.js.Consumer(context.Background(), stream, name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("consumer %s info: %v", name, err)
	}
	return info
}

func (e *testEnv) streamMsgs(t testing.TB, stream string) uint64 {
	t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// recorder is a handler that records its calls and answers from a script.
type recorder struct {
	calls  chan *Msg
	answer func(call int, m *Msg) error
	n      int
}

func newRecorder(answer func(call int, m *Msg) error) *recorder {
	return &recorder{calls: make(chan *Msg, 1000), answer: answer}
}

func (r *recorder) Handle(_ context.Context, m *Msg) error {
	r.n++ // one worker: no race
	r.calls <- m
	if r.answer == nil {
		return nil
	}
	return r.answer(r.n, m)
}

// next waits for the recorder's next call.
func (r *recorder) next(t testing.TB, timeout time.Duration) *Msg {
	t.Helper()
	select {
	case m := <-r.calls:
		return m
	case <-time.After(timeout):
		t.Fatalf("no delivery within %s", timeout)
		return nil
	}
}

// none asserts no call arrives within d.
func (r *recorder) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-r.calls:
		t.Fatalf("unexpected delivery %q (delivered %d)", m.Data, m.Delivered)
	case <-time.After(d):
	}
}

func body(i int) []byte { return fmt.Appendf(nil, `{"n":%d}`, i) }

// testLogger logs through t, so a failing test shows what the runtime did.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: testWriter{t}, NoColor: true}).Level(zerolog.DebugLevel)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
