package streams

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/twin-llm/twin/internal/testwait"
)

func TestLagGaugesShowPendingWhileConsumerIsStopped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	for i := range 5 {
		e.publishRaw(t, "testq.a", "", body(i))
	}
	reg := prometheus.NewRegistry()
	lag := NewLagCollector(e.js, testLogger(t))
	reg.MustRegister(lag)
	if err := lag.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP twin_consumer_pending_messages Messages of the stream that the consumer has not been delivered yet.
# TYPE twin_consumer_pending_messages gauge
twin_consumer_pending_messages{consumer="work",stream="TESTQ"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "twin_consumer_pending_messages"); err != nil {
		t.Fatal(err)
	}

	// Once the consumer runs and drains, the gauge follows.
	e.run(t, "work", HandlerFunc(func(context.Context, *Msg) error { return nil }))
	testwait.Until(t, 5*time.Second, "the backlog drained", func() bool { return e.streamMsgs(t, "TESTQ") == 0 })
	if err := lag.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = strings.Replace(want, "} 5", "} 0", 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "twin_consumer_pending_messages"); err != nil {
		t.Fatal(err)
	}
}

func TestReadStatusListsStreamsAndConsumersSorted(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, testTopology(consumerSpec("work", 5)))
	e.publishRaw(t, "test.a", "", body(1))
	st, err := ReadStatus(context.Background(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range st.Streams {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "DLQ,TEST,TESTQ" {
		t.Fatalf("streams = %v, want DLQ,TEST,TESTQ", names)
	}
	if st.Streams[1].Messages != 1 || st.Streams[1].Bytes == 0 {
		t.Errorf("TEST = %+v, want 1 message with bytes", st.Streams[1])
	}
	if c := st.Streams[2].Consumers; len(c) != 1 || c[0].Name != "work" {
		t.Errorf("TESTQ consumers = %+v, want work", c)
	}
}
