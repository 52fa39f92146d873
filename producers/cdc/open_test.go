package cdc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/internal/store/warehouse/ferrettest"
)

func TestParseModeRefusesAnUnknownMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Mode
		bad  bool
	}{
		{"", ModeAuto, false}, {"auto", ModeAuto, false}, {"tail", ModeTail, false},
		{"changestream", ModeChangeStream, false}, {"Tail", "", true}, {"stream", "", true},
	} {
		got, err := ParseMode(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
		if tc.bad && !strings.Contains(err.Error(), "want auto, changestream or tail") {
			t.Errorf("ParseMode(%q) error %q does not list the modes", tc.in, err)
		}
	}
}

func TestOpenPicksTheModeAndTheGapGraceOfTheWarehouse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlite, err := warehouse.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	// FerretDB speaks the MongoDB wire protocol but is no replica set: auto
	// must pick the tail there, with the grace for out-of-order commits.
	mongo, err := warehouse.OpenMongo(ctx, ferrettest.Start(t), "twin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mongo.Close() })
	for _, tc := range []struct {
		name  string
		store warehouse.Store
		mode  Mode
		want  Mode
		grace time.Duration
		err   string
	}{
		{name: "SQLite auto", store: sqlite, mode: ModeAuto, want: ModeTail},
		{name: "SQLite default", store: sqlite, mode: "", want: ModeTail},
		{name: "SQLite changestream", store: sqlite, mode: ModeChangeStream, err: "needs the MongoDB warehouse"},
		{name: "unknown mode", store: sqlite, mode: "binlog", err: "want auto, changestream or tail"},
		{name: "standalone MongoDB auto", store: mongo, mode: ModeAuto, want: ModeTail, grace: MongoGapGrace},
		{name: "MongoDB changestream", store: mongo, mode: ModeChangeStream, want: ModeChangeStream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p, mode, err := Open(ctx, Config{Mode: tc.mode, Store: tc.store, Publisher: e.pub, JS: e.js, Log: zerolog.Nop()})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Open = %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.want {
				t.Fatalf("Open picked %q, want %q", mode, tc.want)
			}
			switch p := p.(type) {
			case *Tail:
				if tc.want != ModeTail || p.cfg.GapGrace != tc.grace {
					t.Errorf("a tail with gap grace %s, want mode %s with %s", p.cfg.GapGrace, tc.want, tc.grace)
				}
			case *Watcher:
				if tc.want != ModeChangeStream {
					t.Errorf("a change stream watcher for mode %s", tc.want)
				}
			default:
				t.Errorf("Open returned a %T", p)
			}
		})
	}
}
