package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// component is one part of twin that `twin up` runs and `twin run NAME`
// runs alone. run blocks until ctx ends and returns once it has stopped
// cleanly.
type component struct {
	name string
	help string
	run  func(ctx context.Context, s *system, log zerolog.Logger) error
}

// components is the one place where every component is registered, in the
// order they start.
func components() []component {
	return []component{
		{name: "gateway", help: "HTTP API (/v1/status) and the lag metrics of every consumer", run: runGateway},
	}
}

// pickComponents returns the named components, or all of them for none.
func pickComponents(names []string) ([]component, error) {
	all := components()
	if len(names) == 0 {
		return all, nil
	}
	var out []component
	for _, n := range names {
		found := false
		for _, c := range all {
			if c.name == n {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no component %q; the components are: %s", n, componentNames(all))
		}
	}
	return out, nil
}

func componentNames(cs []component) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
