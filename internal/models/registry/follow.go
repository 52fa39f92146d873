package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Follow calls apply with the version of name in service now, before it
// returns, and then with every version promoted or rolled back to, until
// ctx ends. A process that serves a model follows it this way and swaps it
// without a restart. When apply fails (an artifact it cannot read or
// parse), the error is logged and apply is called again at the next
// change: the process keeps serving what it served.
func Follow(ctx context.Context, js jetstream.JetStream, name string, apply func(context.Context, Serving) error, log zerolog.Logger) error {
	kv, err := OpenServing(ctx, js)
	if err != nil {
		return err
	}
	w, err := kv.Watch(ctx, name)
	if err != nil {
		return fmt.Errorf("watch the serving version of %s: %w", name, err)
	}
	use := func(e jetstream.KeyValueEntry) error {
		s := Serving{Name: name}
		if e != nil && e.Operation() == jetstream.KeyValuePut {
			if err := json.Unmarshal(e.Value(), &s); err != nil {
				return fmt.Errorf("read the serving version of %s: %w", name, err)
			}
		}
		return apply(ctx, s)
	}
	// The watcher first delivers the current value (if any), then a nil
	// entry: from then on, every entry is a change.
	var current jetstream.KeyValueEntry // none: the built-in serves
	for e := range w.Updates() {
		if e == nil {
			break
		}
		current = e
	}
	if err := use(current); err != nil {
		log.Error().Err(err).Str("model", name).Msg("cannot serve the version in service; serving the built-in model")
	}
	if ctx.Err() != nil {
		w.Stop()
		return ctx.Err()
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				if err := use(e); err != nil && !errors.Is(err, context.Canceled) {
					log.Error().Err(err).Str("model", name).Msg("cannot serve the version promoted; keeping the one serving")
					continue
				}
				log.Info().Str("model", name).Str("version", versionLabel(e)).Msg("serving a new model version")
			}
		}
	}()
	return nil
}

func versionLabel(e jetstream.KeyValueEntry) string {
	var s Serving
	if json.Unmarshal(e.Value(), &s) != nil || s.Version == "" {
		return "built-in"
	}
	return s.Version
}
