package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nuid"
	"golang.org/x/time/rate"

	"github.com/twin-llm/twin/internal/httpserver"
	"github.com/twin-llm/twin/schemas"
)

// ChatSubprotocol is the WebSocket subprotocol the gateway selects when a
// client offers it. Offering it is optional, except beside a
// "twin.bearer.<token>" subprotocol (see AuthConfig).
const ChatSubprotocol = "twin.v1"

// apiTimeout bounds each NATS or JetStream call the chat makes on a
// client's behalf.
const apiTimeout = 5 * time.Second

// serveChat answers GET /v1/chat: the WebSocket upgrade, then one chatConn.
func (g *Gateway) serveChat(w http.ResponseWriter, r *http.Request) {
	if g.nc == nil || g.cfg.JS == nil || g.cfg.Publisher == nil {
		httpserver.WriteError(w, http.StatusServiceUnavailable, "chat is not available on this gateway")
		return
	}
	if reason := g.reserveConn(); reason != "" {
		g.metrics.refuse(reason)
		w.Header().Set("Retry-After", "5")
		msg := "too many chat connections on this gateway; try again later"
		if reason == reasonShutdown {
			msg = "this gateway is shutting down; try again later"
		}
		httpserver.WriteError(w, http.StatusServiceUnavailable, msg)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{ChatSubprotocol},
		OriginPatterns: g.chat.OriginPatterns,
		// Compression is off: a deflate context costs tens of KB per
		// connection, more than an idle connection's whole budget.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		g.releaseConn()
		g.metrics.refuse(reasonHandshake)
		return // Accept has answered
	}
	ws.SetReadLimit(g.chat.MaxFrameBytes)
	c := &chatConn{g: g, ws: ws, key: g.limiterKey(r)}
	c.ctx, c.cancel = context.WithCancel(g.ctx)
	g.track(c)
	// The read loop runs on a goroutine of its own so that this handler
	// returns: net/http's per-request state and the deep stack of its
	// serving goroutine are freed, about 7 KB of an idle connection's 23
	// (measured by TestIdleConnectionMemory).
	go c.serve()
}

// reserveConn takes a connection slot, or says why there is none. The
// slot counts in connsWG from here, under the lock that Shutdown sets its
// flag with, so that no slot is added once Shutdown waits.
func (g *Gateway) reserveConn() string {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	switch {
	case g.shutdown:
		return reasonShutdown
	case g.chat.MaxConns > 0 && g.reserved >= g.chat.MaxConns:
		return reasonMaxConns
	}
	g.reserved++
	g.connsWG.Add(1)
	return ""
}

// releaseConn gives back the slot of an upgrade that failed.
func (g *Gateway) releaseConn() {
	g.connsMu.Lock()
	g.reserved--
	g.connsMu.Unlock()
	g.connsWG.Done()
}

// track registers an upgraded connection, so that Shutdown can close it;
// one that arrives while Shutdown runs is closed at once.
func (g *Gateway) track(c *chatConn) {
	g.connsMu.Lock()
	g.conns[c] = struct{}{}
	closing := g.shutdown
	g.connsMu.Unlock()
	g.metrics.connections.Inc()
	if closing {
		go c.closeWith(websocket.StatusGoingAway, "server shutting down")
	}
}

func (g *Gateway) untrack(c *chatConn) {
	g.connsMu.Lock()
	delete(g.conns, c)
	g.reserved--
	g.connsMu.Unlock()
	g.metrics.connections.Dec()
	g.connsWG.Done()
}

// Connections is the number of open chat connections.
func (g *Gateway) Connections() int {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	return len(g.conns)
}

// Shutdown closes every chat connection with status 1001 (going away),
// so that clients reconnect to another replica and resume, and waits
// until they are closed or ctx ends. New connections are refused from the
// start. http.Server.Shutdown does not do this: it never waits for, nor
// closes, the hijacked connections WebSockets live on.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.connsMu.Lock()
	g.shutdown = true
	conns := make([]*chatConn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.connsMu.Unlock()
	for _, c := range conns {
		go c.closeWith(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		g.connsWG.Wait()
		close(done)
	}()
	defer g.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chatConn is one chat WebSocket. An idle one holds no goroutine besides
// its reader and no buffer besides the connection's own: the writer runs
// only while frames wait, a reply's subscriptions exist only while it
// streams, and pings are a timer.
//
// Lock order: reply.mu, then chatConn.mu, then ipLimiters.mu; none is
// held across a network call.
type chatConn struct {
	g   *Gateway
	ws  *websocket.Conn
	key string // the per-address limiter's key; "" for none
	// ctx ends when the connection does; cancelling it aborts any read or
	// write in progress and so closes the WebSocket.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex // guards the fields below
	// queue holds encoded frames for the writer, at most SendQueue. It is
	// nil whenever the writer is idle, so an idle connection keeps no
	// buffer.
	queue   []outFrame
	writing bool // a writer goroutine is running
	// closed means no frame is queued anymore: the connection is closing
	// or gone.
	closed bool
	// closeStarted means a close handshake is under way on another
	// goroutine; the reader must not cut it short.
	closeStarted bool
	replies      map[string]*reply // streaming replies by request id; nil when none
	limiter      *rate.Limiter     // made on the first ask
	pinger       *time.Timer
}

// outFrame is one frame waiting to be written; typ is its type for the
// metrics.
type outFrame struct {
	data []byte
	typ  string
}

// serve reads the client's frames until the connection ends.
func (c *chatConn) serve() {
	defer c.finish()
	c.mu.Lock()
	c.pinger = time.AfterFunc(c.g.chat.PingInterval, c.ping)
	c.mu.Unlock()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.g.metrics.refuse(reasonFrameTooBig)
			}
			return
		}
		c.handle(typ, data)
	}
}

// finish releases everything the connection holds. A reply that was
// streaming stays in CHAT_REPLIES for its client to resume elsewhere.
func (c *chatConn) finish() {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	c.queue = nil
	replies := c.replies
	c.replies = nil
	if c.pinger != nil {
		c.pinger.Stop()
	}
	handshake := c.closeStarted
	c.mu.Unlock()
	for _, r := range replies {
		r.stop()
	}
	if !handshake {
		_ = c.ws.CloseNow()
	}
	c.g.untrack(c)
}

// closeWith closes the connection with a status the client can act on.
func (c *chatConn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closeStarted {
		c.mu.Unlock()
		return
	}
	c.closed, c.closeStarted, c.queue = true, true, nil
	c.mu.Unlock()
	_ = c.ws.Close(code, reason)
	c.cancel()
}

// ping checks that the peer is alive, from its own timer goroutine: the
// connection needs no goroutine between pings.
func (c *chatConn) ping() {
	ctx, cancel := context.WithTimeout(c.ctx, c.g.chat.PongTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.g.metrics.refuse(reasonDeadPeer)
			c.cancel() // closes the WebSocket under the reader
			_ = c.ws.CloseNow()
		}
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.pinger.Reset(c.g.chat.PingInterval)
	}
	c.mu.Unlock()
}

// send queues one frame, starting the writer when it is idle. A full
// queue means the client does not read as fast as its replies arrive:
// the connection is closed with 1013 (try again later) rather than
// buffering without bound; its replies stay resumable.
func (c *chatConn) send(data []byte, typ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= c.g.chat.SendQueue {
		c.g.metrics.refuse(reasonSlowClient)
		c.closed, c.closeStarted, c.queue = true, true, nil
		go func() {
			_ = c.ws.Close(websocket.StatusTryAgainLater, "send queue full: reconnect and resume")
			c.cancel()
		}()
		return
	}
	c.queue = append(c.queue, outFrame{data: data, typ: typ})
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

// sendMessage queues a frame of the gateway's own.
func (c *chatConn) sendMessage(m ServerMessage) { c.send(encodeFrame(m), m.Type) }

// write sends queued frames in order until the queue is empty, then
// exits; send starts it again.
func (c *chatConn) write() {
	for {
		c.mu.Lock()
		if c.closed || len(c.queue) == 0 {
			c.writing = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		f := c.queue[0]
		c.queue[0] = outFrame{}
		c.queue = c.queue[1:]
		c.mu.Unlock()

		ctx, cancel := context.WithTimeout(c.ctx, c.g.chat.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, f.data)
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if timedOut && c.ctx.Err() == nil {
				c.g.metrics.refuse(reasonSlowClient)
			}
			c.mu.Lock()
			c.writing, c.closed, c.queue = false, true, nil
			c.mu.Unlock()
			c.cancel() // a failed write has closed the WebSocket; end the reader too
			return
		}
		c.g.metrics.out(f.typ)
	}
}

// handle acts on one client frame.
func (c *chatConn) handle(typ websocket.MessageType, data []byte) {
	if typ != websocket.MessageText {
		c.g.metrics.in("")
		c.refuse(&protocolError{code: CodeBadRequest, msg: "send JSON in text frames"}, reasonInvalid)
		return
	}
	m, pe := parseClientMessage(data, c.g.limits)
	if pe != nil {
		c.g.metrics.in(pe.forType)
		reason := reasonInvalid
		if pe.code == CodeTooLong {
			reason = reasonTooLong
		}
		c.refuse(pe, reason)
		return
	}
	c.g.metrics.in(m.Type)
	switch m.Type {
	case MsgAsk:
		c.ask(m)
	case MsgResume:
		c.resume(m)
	case MsgFeedback:
		c.feedback(m)
	}
}

// refuse answers a frame with an error frame.
func (c *chatConn) refuse(pe *protocolError, reason string) {
	c.g.metrics.refuse(reason)
	c.sendMessage(pe.frame())
}

// allowLocked applies the rate limits, the connection's before the
// address's so that one greedy connection does not use up its
// neighbours' budget. A frame refused by an earlier check takes no token.
func (c *chatConn) allowLocked(id, forType string) *protocolError {
	now := time.Now()
	if c.limiter == nil {
		c.limiter = rate.NewLimiter(limitOf(c.g.chat.AskRate), c.g.chat.AskBurst)
	}
	if !c.limiter.AllowN(now, 1) {
		c.g.metrics.refuse(reasonRateConn)
		return &protocolError{code: CodeRateLimited, msg: "too many requests on this connection; slow down", id: id, forType: forType}
	}
	if c.key != "" && !c.g.ips.allow(c.key, now) {
		c.g.metrics.refuse(reasonRateIP)
		return &protocolError{code: CodeRateLimited, msg: "too many requests from this address; slow down", id: id, forType: forType}
	}
	return nil
}

func (c *chatConn) allow(id, forType string) *protocolError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allowLocked(id, forType)
}

// begin registers a reply for id, within the in-flight and rate limits.
func (c *chatConn) begin(id, forType string, after int) (*reply, *protocolError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &protocolError{code: CodeUnavailable, msg: "the connection is closing", id: id, forType: forType}
	}
	if _, dup := c.replies[id]; dup {
		return nil, &protocolError{code: CodeDuplicate, msg: "request " + id + " is already streaming on this connection", id: id, forType: forType}
	}
	if len(c.replies) >= c.g.chat.MaxInFlight {
		c.g.metrics.refuse(reasonInFlight)
		return nil, &protocolError{code: CodeTooManyInFlight,
			msg: "this connection already streams " + strconv.Itoa(c.g.chat.MaxInFlight) + " replies; wait for one to end", id: id, forType: forType}
	}
	if pe := c.allowLocked(id, forType); pe != nil {
		return nil, pe
	}
	if c.replies == nil {
		c.replies = make(map[string]*reply, c.g.chat.MaxInFlight)
	}
	r := newReply(c, id, forType, after)
	c.replies[id] = r
	return r, nil
}

// ended forgets a finished reply, freeing its in-flight slot.
func (c *chatConn) ended(r *reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replies[r.id] == r {
		delete(c.replies, r.id)
	}
	if len(c.replies) == 0 {
		c.replies = nil
	}
}

// ask publishes a question and streams its reply. The accepted frame goes
// first, so the client learns the id (which it needs to resume) before
// any token.
func (c *chatConn) ask(m ClientMessage) {
	id, generated := m.ID, m.ID == ""
	if generated {
		id = nuid.Next()
	}
	r, pe := c.begin(id, MsgAsk, 0)
	if pe != nil {
		c.sendMessage(pe.frame())
		return
	}
	c.sendMessage(ServerMessage{Type: MsgAccepted, ID: id, For: MsgAsk})
	req := schemas.ChatRequest{ID: id, Query: m.Query, Author: m.Author, Category: m.Category, CreatedAt: time.Now().UTC()}
	// A generated id is new by construction; a client's may name a
	// request already answered, which is then replayed, not asked again.
	go r.ask(req, !generated)
}

// resume streams the rest of a known request's reply.
func (c *chatConn) resume(m ClientMessage) {
	r, pe := c.begin(m.ID, MsgResume, m.After)
	if pe != nil {
		c.sendMessage(pe.frame())
		return
	}
	go r.resume()
}

// feedback publishes a rating, on the same path as POST /v1/feedback.
// It runs on the reader: the rate limit bounds how often that blocks.
func (c *chatConn) feedback(m ClientMessage) {
	if pe := c.allow(m.ID, MsgFeedback); pe != nil {
		c.sendMessage(pe.frame())
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, apiTimeout)
	defer cancel()
	if m.DocumentID != "" {
		c.judgment(ctx, m)
		return
	}
	_, err := c.g.submitFeedback(ctx, m.ID, m.Rating, m.Comment)
	switch {
	case errors.Is(err, ErrRequestNotFound):
		c.sendMessage(ServerMessage{Type: MsgError, ID: m.ID, Code: CodeNotFound, Message: "no finished request " + m.ID, For: MsgFeedback})
	case err != nil:
		c.g.cfg.Log.Warn().Err(err).Str("request", m.ID).Msg("chat feedback")
		c.sendMessage(ServerMessage{Type: MsgError, ID: m.ID, Code: CodeUnavailable, Message: "could not record the feedback; try again", For: MsgFeedback})
	default:
		c.sendMessage(ServerMessage{Type: MsgAccepted, ID: m.ID, For: MsgFeedback})
	}
}

// judgment publishes a judgment of one cited source, on the same path as
// POST /v1/feedback.
func (c *chatConn) judgment(ctx context.Context, m ClientMessage) {
	_, err := c.g.submitJudgment(ctx, SourceJudgment{RequestID: m.ID, DocumentID: m.DocumentID, Helpful: *m.Helpful, Query: m.Query})
	fail := func(code, msg string) {
		c.sendMessage(ServerMessage{Type: MsgError, ID: m.ID, Code: code, Message: msg, For: MsgFeedback, DocumentID: m.DocumentID})
	}
	switch {
	case errors.Is(err, ErrRequestNotFound):
		fail(CodeNotFound, "no finished request "+m.ID)
	case errors.Is(err, ErrNotASource):
		fail(CodeBadRequest, "the document is not a source of request "+m.ID)
	case errors.Is(err, ErrQueryUnknown):
		fail(CodeBadRequest, `the question of request `+m.ID+` is no longer known: send it as "query"`)
	case err != nil:
		c.g.cfg.Log.Warn().Err(err).Str("request", m.ID).Msg("chat judgment")
		fail(CodeUnavailable, "could not record the judgment; try again")
	default:
		c.sendMessage(ServerMessage{Type: MsgAccepted, ID: m.ID, For: MsgFeedback, DocumentID: m.DocumentID})
	}
}
