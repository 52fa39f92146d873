package embedded

import (
	"bytes"
	"fmt"
	"sync/atomic"
)

// loader rebuilds an index from the records of a snapshot and logs. It
// decodes records and prepares their points on every core, and applies
// them on one goroutine in the order they were fed, since the last record
// about an id must win.
type loader struct {
	ix       *index
	queue    chan chan loaded // records in order, each with its result to come
	done     chan error       // the first error, once the queue is drained
	failed   atomic.Bool      // a record failed: feed stops taking more
	finished bool
	err      error
}

// loaded is a decoded record: its changes, with the points prepared.
type loaded struct {
	ops     []op
	entries [][]entry // per op
	err     error
}

func newLoader(ix *index, workers int) *loader {
	l := &loader{ix: ix, queue: make(chan chan loaded, 2*workers), done: make(chan error, 1)}
	go l.apply()
	return l
}

// feed queues a record body; it copies body, which the caller reuses.
func (l *loader) feed(body []byte) error {
	if l.failed.Load() {
		return nil // finish reports why
	}
	body = bytes.Clone(body)
	res := make(chan loaded, 1)
	l.queue <- res // blocks while 2*workers records are in flight
	go func() { res <- decodeRecord(body, l.ix.dim, l.ix.stride) }()
	return nil
}

func decodeRecord(body []byte, dim, stride int) loaded {
	o, err := decodeOp(body, dim)
	if err != nil {
		return loaded{err: err}
	}
	ld := loaded{ops: []op{o}}
	switch o.kind {
	case kindGroup:
		ld.ops = o.group
	case kindEnd:
		return loaded{err: fmt.Errorf("%w: end record out of place", ErrCorrupt)}
	}
	for _, o := range ld.ops {
		entries := make([]entry, len(o.points))
		for i := range o.points {
			entries[i] = prepare(o.points[i], o.extras[i], stride, true)
		}
		ld.entries = append(ld.entries, entries)
	}
	return ld
}

func (l *loader) apply() {
	var first error
	for res := range l.queue {
		ld := <-res
		if first != nil {
			continue
		}
		if ld.err != nil {
			first = ld.err
			l.failed.Store(true)
			continue
		}
		for i, o := range ld.ops {
			for j := range ld.entries[i] {
				l.ix.put(&ld.entries[i][j])
			}
			for _, id := range o.ids {
				if slot, ok := l.ix.byID[id]; ok {
					l.ix.remove(slot)
				}
			}
		}
	}
	l.done <- first
}

// finish waits until every record fed is applied and returns the first
// error met. Calling it again returns the same error.
func (l *loader) finish() error {
	if !l.finished {
		l.finished = true
		close(l.queue)
		l.err = <-l.done
	}
	return l.err
}
