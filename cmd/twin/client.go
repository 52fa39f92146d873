package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectNATS connects a client command to the running system's NATS.
func (g *globals) connectNATS() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(g.natsURL(), nats.Name("twin-cli"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s (is twin up running? set --nats or TWIN_NATS): %w", g.natsURL(), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// getJSON fetches path from the gateway into v.
func (g *globals) getJSON(ctx context.Context, path string, v any) error {
	return g.doJSON(ctx, http.MethodGet, path, v)
}

// deleteJSON sends DELETE path to the gateway and decodes the answer into v.
func (g *globals) deleteJSON(ctx context.Context, path string, v any) error {
	return g.doJSON(ctx, http.MethodDelete, path, v)
}

func (g *globals) doJSON(ctx context.Context, method, path string, v any) error {
	url := strings.TrimRight(g.server, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", g.server, err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach twin at %s (is twin up running? set --server or TWIN_SERVER): %w", g.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("%s %s: %w", method, url, &httpError{status: resp.StatusCode, msg: e.Error})
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}
