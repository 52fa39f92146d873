package warehouse

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrUnissuedRevision is a revision the warehouse never issued, carried by a
// message: forged, or from before the warehouse was restored from an older
// copy. The warehouse commits before its change is published, so no real
// message can be ahead of it; a consumer dead-letters such a message.
var ErrUnissuedRevision = errors.New("revision never issued by the warehouse")

// Issued remembers the highest revision a warehouse is known to have
// issued, so that checking a message's revision asks the warehouse only
// when the revision is above every one seen: about once per batch while new
// writes stream in, never for a replay. Safe for concurrent use.
type Issued struct {
	high atomic.Int64
}

// Covering returns the highest revision known to be issued once it covers
// rev, asking last (the store's LastRevision) only when rev is above the
// highest known. A result below rev means rev was never issued.
func (i *Issued) Covering(ctx context.Context, last func(context.Context) (int64, error), rev int64) (int64, error) {
	if high := i.high.Load(); rev <= high {
		return high, nil
	}
	got, err := last(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the warehouse's last revision: %w", err)
	}
	for {
		cur := i.high.Load()
		if got <= cur || i.high.CompareAndSwap(cur, got) {
			return max(got, cur), nil
		}
	}
}
