// Package streamstest starts what tests of twin's consumers stand on: a
// real embedded JetStream server in a temporary directory, with the twin
// topology applied and its limits scaled to a small store.
package streamstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/streams"
)

// Start runs the server until the test ends and returns a JetStream
// context connected to it in-process.
func Start(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	srv, err := streams.StartServer(streams.ServerConfig{DataDir: tb.TempDir(), MaxMemory: 64 << 20, MaxStore: 1 << 30, Log: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	if err := Topology().Apply(context.Background(), js); err != nil {
		tb.Fatal(err)
	}
	return js
}

// Topology is the twin topology fitted to the test server's store, with
// room for the KV buckets.
func Topology() streams.Topology {
	return streams.DefaultTopology().FitStore(900<<20 - streams.BucketBytes)
}
