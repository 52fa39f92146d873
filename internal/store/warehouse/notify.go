package warehouse

import "sync"

// notifier wakes subscribers after a commit that allocated revisions. Each
// subscriber has a channel with a buffer of one: a send never blocks, and
// any number of commits while the subscriber is busy coalesce into one
// wake-up, after which it reads every change it has not seen.
type notifier struct {
	// mu guards subs and closed.
	mu     sync.Mutex
	subs   map[*chan struct{}]struct{}
	closed bool
}

// subscribe registers a channel; the returned function cancels it (and is
// safe to call twice, or after close).
func (n *notifier) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		close(ch)
		return ch, func() {}
	}
	if n.subs == nil {
		n.subs = make(map[*chan struct{}]struct{})
	}
	n.subs[&ch] = struct{}{}
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.subs, &ch)
	}
}

// notify wakes every subscriber without blocking.
func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}

// close closes every subscriber's channel; later subscriptions get a
// closed channel.
func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	for ch := range n.subs {
		close(*ch)
	}
	n.subs = nil
}
