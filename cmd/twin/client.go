package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectNATS connects a client command to the running system's NATS.
func (g *globals) connectNATS() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(g.natsURL(), append([]nats.Option{nats.Name("twin-cli"), nats.Timeout(5 * time.Second)}, reconnectOptions()...)...)
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
	return g.doJSON(ctx, http.MethodGet, path, nil, v)
}

// postJSON sends body to the gateway and decodes the answer into v.
func (g *globals) postJSON(ctx context.Context, path string, body, v any) error {
	return g.doJSON(ctx, http.MethodPost, path, body, v)
}

// deleteJSON sends DELETE path to the gateway and decodes the answer into v.
func (g *globals) deleteJSON(ctx context.Context, path string, v any) error {
	return g.doJSON(ctx, http.MethodDelete, path, nil, v)
}

// doJSON is one request to the gateway: body (when not nil) as JSON, a 2xx
// answer decoded into v, anything else an *httpError with the gateway's
// message. An error answer is decoded into v too: a 400 of POST /v1/crawl
// still carries the reason of each URL.
func (g *globals) doJSON(ctx context.Context, method, path string, body, v any) error {
	var reqBody io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(data)
	}
	url := strings.TrimRight(g.server, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, url, reqBody)
	if err != nil {
		return fmt.Errorf("--server %q: %w", g.server, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("reach twin at %s (is twin up running? set --server or TWIN_SERVER): %w", g.server, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		_ = json.Unmarshal(raw, v)
		return fmt.Errorf("%s %s: %w", method, url, &httpError{status: resp.StatusCode, msg: e.Error})
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
}
