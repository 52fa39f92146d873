package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/gateway"
	"github.com/twin-llm/twin/streams"
)

// reconnectOptions make a client command's NATS connection outlive a
// restart of the server (twin up restarted, a NATS node replaced): it
// reconnects for as long as the command runs, instead of giving up after
// nats.go's default 60 tries, and buffers what it publishes meanwhile.
func reconnectOptions() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
	}
}

// connectNATS connects a client command to the running system's NATS, as
// the operator (streams.RoleAdmin) unless --nats-creds says otherwise.
func (g *globals) connectNATS() (*nats.Conn, jetstream.JetStream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := g.findNATS(ctx)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	// A refused subject reaches the client only as an asynchronous error,
	// while the request behind it just times out: say it, or the command
	// would end on a bare "context deadline exceeded".
	refused := nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		g.log.Error().Err(err).Msg("NATS refused an operation: the credentials lack the permission")
	})
	opts := append([]nats.Option{nats.Name("twin-cli"), nats.Timeout(5 * time.Second), refused}, reconnectOptions()...)
	nc, err := g.dialNATS(streams.RoleAdmin, opts...)
	if err != nil {
		if g.lookupErr != nil {
			return nil, nil, fmt.Errorf("connect to NATS at %s (the gateway at %s did not say where NATS is: %v; is twin up running? set --server, or --nats): %w",
				g.natsURL(), g.server, g.lookupErr, err)
		}
		return nil, nil, fmt.Errorf("connect to NATS at %s (is twin up running? set --server, or --nats): %w", g.natsURL(), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// findNATS asks the gateway at --server where the system's NATS listens,
// unless --nats says it: one address is enough for every client command.
// A gateway that cannot be reached or does not say (--http off, an older
// twin) leaves the default, with the reason kept for the error message
// should that fail too.
func (g *globals) findNATS(ctx context.Context) error {
	if g.nats != "" || g.natsFound != "" {
		return nil
	}
	var c gateway.ConnectResponse
	if err := g.getJSON(ctx, "/v1/connect", &c); err != nil {
		g.lookupErr = err
		return nil
	}
	if c.NATSURL == "" {
		return fmt.Errorf("the twin at %s cannot be reached over NATS from here: %s; or give --nats", g.server, c.Reason)
	}
	g.natsFound = c.NATSURL
	if !g.dataSet {
		g.natsData = c.DataDir
	}
	return nil
}

// credsDir is the data dir whose seeds a client presents: --data when
// given, else the one the gateway told, else the default.
func (g *globals) credsDir() string {
	if g.natsData != "" {
		return g.natsData
	}
	return g.data
}

// dialNATS connects to g.natsURL() as role. Credentials come from, in
// order: --nats-creds, --nats-token, a user in the URL, and else the seed
// of role that a twin up on this machine keeps in its data dir (--data, or
// the one its gateway told). That last one is
// only a guess: when the server does not do nkeys at all (a plain NATS
// server), the connection is tried again without it.
func (g *globals) dialNATS(role streams.Role, opts ...nats.Option) (*nats.Conn, error) {
	url := g.natsURL()
	switch {
	case g.natsCreds != "":
		opt, err := streams.CredentialsOption(g.natsCreds)
		if err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		return nats.Connect(url, append(opts, opt)...)
	case g.natsToken != "":
		return nats.Connect(url, append(opts, nats.Token(g.natsToken))...)
	case urlHasUser(url):
		return nats.Connect(url, opts...)
	}
	seed := streams.SeedFile(g.credsDir(), role)
	if _, err := os.Stat(seed); err != nil {
		nc, err := nats.Connect(url, opts...)
		if errors.Is(err, nats.ErrAuthorization) {
			err = fmt.Errorf("%w (no credentials at %s: give --data of the twin up, or --nats-creds)", err, seed)
		}
		return nc, err
	}
	opt, err := streams.CredentialsOption(seed)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(opts, opt)...)
	if errors.Is(err, nats.ErrNkeysNotSupported) {
		return nats.Connect(url, opts...)
	}
	if errors.Is(err, nats.ErrAuthorization) {
		err = fmt.Errorf("%w (with the %s credentials of %s; this server wants others: give --nats-creds)", err, role, seed)
	}
	return nc, err
}

// urlHasUser reports whether a NATS URL (or comma-separated list) carries
// a user or token.
func urlHasUser(urls string) bool {
	for u := range strings.SplitSeq(urls, ",") {
		if p, err := neturl.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			return true
		}
	}
	return false
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
	// A caller that set its own deadline (a long dataset build) has it
	// instead of the usual bound.
	client := &http.Client{Timeout: 30 * time.Second}
	if _, ok := ctx.Deadline(); ok {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
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

// StatusCode is the answer's HTTP status: a wait retries a 5xx.
func (e *httpError) StatusCode() int { return e.status }

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
}
