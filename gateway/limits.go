package gateway

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiters holds one ask-rate limiter per client address, in a map that
// never holds more than max entries: an entry idle for ttl is dropped, and
// when the map is full of live entries an arbitrary one is evicted. An
// evicted address starts again with a full burst; that costs the limit
// some precision under an attack from many addresses, never memory.
type ipLimiters struct {
	limit rate.Limit
	burst int
	max   int
	ttl   time.Duration

	mu        sync.Mutex // guards entries and lastSweep
	entries   map[string]*ipEntry
	lastSweep time.Time
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiters(limit rate.Limit, burst, max int, ttl time.Duration) *ipLimiters {
	return &ipLimiters{limit: limit, burst: burst, max: max, ttl: ttl, entries: make(map[string]*ipEntry)}
}

// allow takes one token from key's limiter.
func (l *ipLimiters) allow(key string, now time.Time) bool {
	if l.limit == rate.Inf {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		if len(l.entries) >= l.max {
			l.makeRoom(now)
		}
		e = &ipEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.entries[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// makeRoom frees one entry at least. The full sweep is O(n), so it runs
// at most once per second; in between, a full map evicts at random (map
// iteration order), which an attacker cannot aim.
func (l *ipLimiters) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, e := range l.entries {
			if now.Sub(e.seen) > l.ttl {
				delete(l.entries, k)
			}
		}
	}
	for k := range l.entries {
		if len(l.entries) < l.max {
			break
		}
		delete(l.entries, k)
	}
}

// len is the number of addresses tracked, for tests.
func (l *ipLimiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// limiterKey is the per-address limiter key of a request, or "" for a
// loopback peer, which the per-address limit does not apply to: it is a
// tool on the gateway's machine (twin chat, twin bench), or a reverse
// proxy there whose clients would otherwise all count as one address.
func limiterKey(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Unmap().IsLoopback() {
		return ""
	}
	return clientKey(r.RemoteAddr)
}

// clientKey is the limiter key of a remote address: the IPv4 address, or
// the /64 of an IPv6 one, since a single host commonly holds a whole /64.
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr // not host:port (a Unix socket): one key for all
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}
