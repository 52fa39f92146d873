package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/consumers/embedder"
	"github.com/twin-llm/twin/producers/cdc"
)

// cdcFlags configure the CDC producer.
type cdcFlags struct {
	mode string
}

func addCDCFlags(fl *pflag.FlagSet, c *cdcFlags) {
	fl.StringVar(&c.mode, "cdc-mode", string(cdc.ModeAuto), "how changes are read: auto (change streams on a MongoDB replica set, else the revision tail), changestream or tail")
}

// checkCDC refuses a mode that is no mode, or that the warehouse cannot
// serve.
func checkCDC(f serveFlags) error {
	mode, err := cdc.ParseMode(f.cdc.mode)
	if err != nil {
		return fmt.Errorf("--cdc-mode %q: want auto, changestream or tail", f.cdc.mode)
	}
	if mode == cdc.ModeChangeStream && f.mongo == "" {
		return fmt.Errorf("--cdc-mode changestream needs the MongoDB warehouse (--mongo)")
	}
	return nil
}

func runCDC(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	p, mode, err := cdc.Open(ctx, cdc.Config{Mode: cdc.Mode(s.flags.cdc.mode), Store: store, Publisher: s.pub, JS: s.js, Log: log,
		// A re-snapshot (the warehouse found behind the checkpoint) also
		// removes from the index the documents the warehouse lacks.
		Indexed: func(ctx context.Context) (map[string]int64, error) {
			revs, err := embedder.OpenKVRevisions(ctx, s.js)
			if err != nil {
				return nil, err
			}
			return revs.IDs(ctx)
		}})
	if err != nil {
		return err
	}
	log.Debug().Str("mode", string(mode)).Msg("reading the warehouse's changes")
	ready()
	return p.Run(ctx)
}
