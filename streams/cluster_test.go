package streams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/testwait"
)

// freeAddrs reserves n loopback addresses. The ports are released before
// use, so another process could take one in between; tests that use them
// fail loudly then, they do not pass wrongly.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// startCluster starts a cluster of n members sharing the credentials of
// dir, each with its own store, and returns them.
func startCluster(t *testing.T, dir string, n int) []*Server {
	t.Helper()
	addrs := freeAddrs(t, n)
	routes := make([]string, n)
	for i, a := range addrs {
		routes[i] = "nats://" + a
	}
	servers := make([]*Server, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			s, err := StartServer(ServerConfig{DataDir: dir, Name: fmt.Sprintf("n%d", i), StoreDir: fmt.Sprintf("%s/nats-n%d", dir, i),
				Listen: "127.0.0.1:-1", MaxMemory: 64 << 20, MaxStore: 1 << 30, Log: zerolog.Nop(),
				Cluster: &ClusterConfig{Listen: addrs[i], Routes: routes}})
			servers[i] = s
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Shutdown()
		}
	})
	return servers
}

// TestClusterOfThreeKeepsR3StreamsAndBuckets starts three members at once
// on one data dir (so they make the credentials at the same time, and must
// agree on them), applies the topology at three replicas, and checks that
// the streams and the key-value buckets the components open are on all
// three, and that a stream keeps working with one member stopped.
func TestClusterOfThreeKeepsR3StreamsAndBuckets(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster takes seconds to form")
	}
	t.Parallel()
	dir := t.TempDir()
	servers := startCluster(t, dir, 3)

	opt, err := CredentialsOption(SeedFile(dir, RoleSystem))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range servers {
		c, err := nats.Connect(s.ClientURL(), opt)
		if err != nil {
			t.Fatalf("member n%d refuses the system seed on disk (the members made different credentials): %v", i, err)
		}
		c.Close()
	}
	urls := servers[0].ClientURL() + "," + servers[1].ClientURL() + "," + servers[2].ClientURL()
	nc, err := nats.Connect(urls, opt, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect with the shared system seed: %v", err)
	}
	defer nc.Close()
	raw, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	js := WithReplicas(raw, 3)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	topo := DefaultTopology().FitStore(800<<20 - BucketBytes)
	topo.Replicas = 3
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatalf("apply R3 on a forming cluster: %v", err)
	}
	info, err := js.Stream(ctx, StreamCDC)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("stream CDC has %d replicas, want 3", got)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "twin_test_state"})
	if err != nil {
		t.Fatal(err)
	}
	// The bucket answers reads as soon as it is open: its stream has a
	// leader (a component reads its bucket first thing).
	if _, err := kv.Get(ctx, "nothing-yet"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read of a bucket just opened: %v, want %v", err, jetstream.ErrKeyNotFound)
	}
	if info, err := js.Stream(ctx, "KV_twin_test_state"); err != nil || info.CachedInfo().Cluster == nil || info.CachedInfo().Cluster.Leader == "" {
		t.Errorf("the bucket's stream has no leader once open: %v", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; got != 3 {
		t.Errorf("a bucket opened through WithReplicas has %d replicas, want 3", got)
	}

	// One member down: the other two are a quorum, publishing goes on.
	servers[2].Shutdown()
	testwait.Until(t, 30*time.Second, "a publish to an R3 stream with one of three members down", func() bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "twin.cdc.documents.insert", []byte(`{}`))
		return err == nil
	})
}

// TestClusterRefusesAMemberWithOtherCredentials: the route password comes
// from the credentials, so a server made with another data dir's cannot
// join the cluster.
func TestClusterRefusesAMemberWithOtherCredentials(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	ca, err := loadOrCreateCredentials(a, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := loadOrCreateCredentials(b, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateCredentials(a, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := ca.routePassword()
	pb, _ := cb.routePassword()
	pa2, _ := again.routePassword()
	if pa == "" || pa != pa2 {
		t.Errorf("route password of one data dir: %q then %q, want the same non-empty one", pa, pa2)
	}
	if pa == pb {
		t.Error("two data dirs' credentials gave the same route password")
	}
}
