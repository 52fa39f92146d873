package gateway

import (
	"time"

	"golang.org/x/time/rate"
)

// ChatConfig bounds the chat WebSocket (GET /v1/chat). A zero field takes
// its default (Default* constants); a negative rate or MaxConns turns that
// limit off. docs/chat.md explains each choice.
type ChatConfig struct {
	// MaxFrameBytes is the largest client frame; a larger one closes the
	// connection with status 1009 (message too big).
	MaxFrameBytes int64
	// MaxQueryChars and MaxCommentChars bound an ask's query and a
	// feedback's comment, in characters; over it the frame is answered
	// with a "too_long" error.
	MaxQueryChars   int
	MaxCommentChars int
	// MaxInFlight is how many replies (asks and resumes) one connection
	// may stream at once.
	MaxInFlight int
	// AskRate (per second) and AskBurst limit the asks, resumes and
	// feedbacks of one connection; IPAskRate and IPAskBurst those of all
	// connections from one client address (an IPv6 /64).
	AskRate    float64
	AskBurst   int
	IPAskRate  float64
	IPAskBurst int
	// MaxIPs bounds how many addresses the per-address limiter tracks;
	// IPIdle is how long an idle address is remembered.
	MaxIPs int
	IPIdle time.Duration
	// PingInterval is how often each connection is pinged; one that does
	// not answer within PongTimeout is closed.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds the write of one frame; SendQueue bounds the
	// frames waiting for a connection's writer. A client that exceeds
	// either is closed (1013 try again later) and may resume later.
	WriteTimeout time.Duration
	SendQueue    int
	// ReplyTimeout is the longest wait for the next message of a reply
	// (its first token included) before the request is answered with a
	// "timeout" error.
	ReplyTimeout time.Duration
	// MaxConns bounds the open chat connections of this gateway; more are
	// refused with 503 before the upgrade.
	MaxConns int
	// OriginPatterns lets pages from other origins open the WebSocket
	// (host patterns as in path.Match, e.g. "chat.example.com" or
	// "https://*.example.com"). The gateway's own origin is always allowed;
	// a request without an Origin header (not a browser) too.
	OriginPatterns []string
}

// Defaults of ChatConfig.
const (
	DefaultMaxFrameBytes   = 64 << 10
	DefaultMaxQueryChars   = 4000
	DefaultMaxCommentChars = 4000
	DefaultMaxInFlight     = 4
	DefaultAskRate         = 1.0
	DefaultAskBurst        = 5
	DefaultIPAskRate       = 5.0
	DefaultIPAskBurst      = 20
	DefaultMaxIPs          = 50_000
	DefaultIPIdle          = 10 * time.Minute
	DefaultPingInterval    = 30 * time.Second
	DefaultPongTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultSendQueue       = 256
	DefaultReplyTimeout    = 5 * time.Minute
	DefaultMaxConns        = 10_000
)

// withDefaults fills the zero fields. Counts other than MaxConns cannot
// be turned off, so a negative one takes the default as well.
func (c ChatConfig) withDefaults() ChatConfig {
	count := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	duration := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	count(&c.MaxQueryChars, DefaultMaxQueryChars)
	count(&c.MaxCommentChars, DefaultMaxCommentChars)
	count(&c.MaxInFlight, DefaultMaxInFlight)
	count(&c.AskBurst, DefaultAskBurst)
	count(&c.IPAskBurst, DefaultIPAskBurst)
	count(&c.MaxIPs, DefaultMaxIPs)
	count(&c.SendQueue, DefaultSendQueue)
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.AskRate == 0 {
		c.AskRate = DefaultAskRate
	}
	if c.IPAskRate == 0 {
		c.IPAskRate = DefaultIPAskRate
	}
	duration(&c.IPIdle, DefaultIPIdle)
	duration(&c.PingInterval, DefaultPingInterval)
	duration(&c.PongTimeout, DefaultPongTimeout)
	duration(&c.WriteTimeout, DefaultWriteTimeout)
	duration(&c.ReplyTimeout, DefaultReplyTimeout)
	return c
}

// limitOf turns a configured rate into a limiter's: negative is no limit.
func limitOf(perSecond float64) rate.Limit {
	if perSecond < 0 {
		return rate.Inf
	}
	return rate.Limit(perSecond)
}
