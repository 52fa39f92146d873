// Package embedded is twin's default vector store: a pure-Go, in-process
// implementation of vectors.Store that keeps every point in memory and
// persists it under one directory.
//
// Search is exact. Dense search scans int8-quantized vectors with a bound
// on the quantization error and rescores in float32 whatever the bound
// cannot rule out (see searchDense); sparse search walks a BM25 inverted
// index; payload filters pick candidates from per-field indexes before
// anything is scored; hybrid queries fuse the two with reciprocal rank
// fusion, as Qdrant's Query API does.
//
// Durability comes from an append-only log, synced before Upsert and
// DeleteDocument return, replayed at Open and compacted into a snapshot in
// the background (see files.go).
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// ErrLocked is a store directory that another open Store holds, in this
// process or another.
var ErrLocked = errors.New("embedded: store directory in use")

// Option configures Open.
type Option func(*options)

type options struct {
	compactAfter int64
	onCompact    func(error)
}

// CompactAfter sets how many bytes of log records make the store write a
// snapshot and drop the logs it covers (default 64 MiB). It also waits for
// the log to outgrow the last snapshot, so rewriting the snapshot costs
// no more than writing the log did.
func CompactAfter(bytes int64) Option {
	return func(o *options) { o.compactAfter = bytes }
}

// OnCompact registers fn to be called after each background compaction
// with its outcome, for logging. fn must not call the store.
func OnCompact(fn func(error)) Option {
	return func(o *options) { o.onCompact = fn }
}

// Store is the embedded vector store. It is safe for concurrent use: many
// searches run at once, changes one at a time.
type Store struct {
	dir    string
	dim    int
	stride int
	opts   options
	lock   *os.File
	pool   sync.Pool // *sparseScratch

	// compactMu makes compactions take turns.
	compactMu sync.Mutex
	// closing tells a running compaction to give up.
	closing atomic.Bool

	// writeMu is held while changes are appended to the log and applied
	// to the index, so the index changes in log order. It guards log,
	// logBytes and the done and err of every change. Holding it, a writer
	// reads the index without mu, since only writers change it.
	writeMu  sync.Mutex
	log      *logFile
	logBytes int64 // in all logs not yet folded into the snapshot

	// pendingMu guards pending: changes waiting for writeMu. Whoever gets
	// writeMu commits all of them in one frame and one fsync (a group
	// commit), so concurrent writers share the cost of a sync.
	pendingMu sync.Mutex
	pending   []*change

	snapshotBytes atomic.Int64

	// mu guards idx and closed. Searches hold it shared; a writer holds it
	// exclusively only to apply a change that is already durable, so no
	// search ever sees a change a crash could undo. closed is written
	// under both writeMu and mu, so either is enough to read it.
	mu     sync.RWMutex
	idx    *index
	closed bool

	compactc chan struct{} // wakes the compactor; holds at most one wake-up
	stop     context.CancelFunc
	done     chan struct{} // closed when the compactor has returned
}

var _ vectors.Store = (*Store)(nil)

// Open opens the store in dir, creating it if needed, for dense vectors of
// dim dimensions. It replays what a previous process left, whether that
// process closed the store or died: a record torn by a crash was never
// acknowledged and is dropped. A dir written with another dim is an
// error wrapping vectors.ErrDimension.
func Open(dir string, dim int, opts ...Option) (*Store, error) {
	if dim <= 0 || dim > 1<<16 {
		return nil, fmt.Errorf("embedded: dimension %d: %w", dim, vectors.ErrDimension)
	}
	o := options{compactAfter: 64 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, dim: dim, stride: strideOf(dim), opts: o, lock: lock, idx: newIndex(dim), compactc: make(chan struct{}, 1), done: make(chan struct{})}
	if err := s.load(); err != nil {
		if s.log != nil {
			s.log.close()
		}
		lock.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.compactor(ctx)
	s.writeMu.Lock()
	s.maybeCompact()
	s.writeMu.Unlock()
	return s, nil
}

// load rebuilds the index from the snapshot and the logs after it.
func (s *Store) load() error {
	if err := os.Remove(filepath.Join(s.dir, snapshotTemp)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ld := newLoader(s.idx, runtime.GOMAXPROCS(0))
	defer ld.finish() // on the error paths; a second finish is a no-op
	first, size, err := loadSnapshot(s.dir, s.dim, ld.feed)
	if err != nil {
		return err
	}
	s.snapshotBytes.Store(size)
	gens, err := logGens(s.dir)
	if err != nil {
		return err
	}
	for _, gen := range gens {
		if gen < first {
			// Folded into the snapshot by a compaction that a crash
			// interrupted before it removed them.
			if err := os.Remove(filepath.Join(s.dir, logName(gen))); err != nil {
				return err
			}
			continue
		}
		l, err := openLog(s.dir, s.dim, gen, ld.feed)
		if err != nil {
			return err
		}
		s.logBytes += l.size - headerSize
		if s.log != nil {
			s.log.close()
		}
		s.log = l
	}
	if err := ld.finish(); err != nil {
		return err
	}
	if s.log == nil {
		s.log, err = createLog(s.dir, s.dim, first)
	}
	return err
}

// Dim is the dense dimension the store was opened with.
func (s *Store) Dim() int { return s.dim }

// Upsert writes points, replacing those with the same ids, all or none:
// they are durable (synced to disk in one record) and visible to searches
// when it returns nil. Extra must be JSON-encodable; it comes back as JSON
// decodes it (numbers as float64).
func (s *Store) Upsert(ctx context.Context, points []vectors.Point) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := s.prepareUpsert(points)
	if err != nil {
		return err
	}
	if len(points) == 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return vectors.ErrClosed
		}
		return nil
	}
	s.pendingMu.Lock()
	s.pending = append(s.pending, c)
	s.pendingMu.Unlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if !c.done {
		s.commit()
	}
	// Done, by this call or a concurrent one holding writeMu before:
	// nothing reads the entries any more.
	c.slab.release()
	c.slab, c.entries = nil, nil
	return c.err
}

// prepareUpsert checks points and builds their change, outside any lock.
func (s *Store) prepareUpsert(points []vectors.Point) (*change, error) {
	entries := make([]entry, len(points))
	extras := make([][]byte, len(points))
	size := 0
	for i := range points {
		if err := s.check(&points[i]); err != nil {
			return nil, err
		}
	}
	// The entries' vectors and codes live in one slab, reused once the
	// change is committed (the index copies them).
	slab := newSlab(len(points), s.stride)
	for i, p := range points {
		var extra []byte
		if len(p.Payload.Extra) > 0 {
			var err error
			if extra, err = marshalExtra(p.Payload.Extra); err != nil {
				return nil, fmt.Errorf("embedded: payload extra of point %s: %w", p.ID, err)
			}
		}
		// The store keeps its own copies of everything the caller could
		// change after Upsert returns.
		p.Sparse = vectors.Sparse{Indices: slices.Clone(p.Sparse.Indices), Values: slices.Clone(p.Sparse.Values)}
		entries[i] = prepareInto(p, extra, s.stride, false, slab.vecs[i*s.stride:(i+1)*s.stride:(i+1)*s.stride], slab.codes[i*s.stride:(i+1)*s.stride:(i+1)*s.stride])
		extras[i] = extra
		size += pointSize(&entries[i].point, extra)
	}
	fr := newFrame(kindUpsert, len(points), size)
	for i := range entries {
		fr.point(&entries[i].point, extras[i])
	}
	if len(fr.body()) > maxFrame {
		size := len(fr.body())
		fr.release()
		slab.release()
		return nil, fmt.Errorf("embedded: an upsert of %d points takes %d bytes, more than %d: split it", len(points), size, maxFrame)
	}
	return &change{frame: fr, entries: entries, slab: slab}, nil
}

// change is one Upsert or DeleteDocument on its way to the log.
type change struct {
	frame   *frame
	entries []entry  // points to put
	slab    *slab    // the entries' vectors and codes
	ids     []string // ids to remove
	removed int      // how many of ids were there when it was applied
	done    bool     // committed, or failed with err
	err     error
}

// commit writes the pending changes to the log in one frame, syncs it,
// then applies them to the index in order. Invariant: the index shows a
// change only after the log holds it durably. The caller holds writeMu.
func (s *Store) commit() {
	s.pendingMu.Lock()
	// Take changes up to the frame size limit; the rest wait for the
	// next commit, which their callers run when they get writeMu.
	n, size := 0, 0
	for n < len(s.pending) && (n == 0 || size+len(s.pending[n].frame.body()) <= maxFrame) {
		size += len(s.pending[n].frame.body())
		n++
	}
	group := s.pending[:n:n]
	s.pending = slices.Clone(s.pending[n:])
	s.pendingMu.Unlock()

	err := vectors.ErrClosed
	if !s.closed {
		fr := group[0].frame
		if len(group) > 1 {
			frames := make([]*frame, len(group))
			for i, c := range group {
				frames[i] = c.frame
			}
			fr = groupFrame(frames)
		}
		err = s.append(fr.bytes())
		if fr != group[0].frame {
			fr.release()
		}
	}
	// The bytes are in the log (or the write failed, and the callers will
	// build new changes): the frames are done with.
	for _, c := range group {
		c.frame.release()
		c.frame = nil
	}
	if err == nil {
		s.mu.Lock()
		for _, c := range group {
			for i := range c.entries {
				s.idx.put(&c.entries[i])
			}
			for _, id := range c.ids {
				if slot, ok := s.idx.byID[id]; ok {
					s.idx.remove(slot)
					c.removed++
				}
			}
		}
		s.mu.Unlock()
	}
	for _, c := range group {
		c.done, c.err = true, err
	}
}

// check validates a point before anything is written.
func (s *Store) check(p *vectors.Point) error {
	if p.ID == "" {
		return errors.New("embedded: point without an id")
	}
	if len(p.Dense) != s.dim {
		return fmt.Errorf("embedded: point %s has %d dimensions, the store %d: %w", p.ID, len(p.Dense), s.dim, vectors.ErrDimension)
	}
	for _, x := range p.Dense {
		if x-x != 0 { // NaN or ±Inf, in one comparison: this runs per coordinate
			return fmt.Errorf("embedded: point %s: dense vector holds %v", p.ID, x)
		}
	}
	sp := &p.Sparse
	if len(sp.Indices) != len(sp.Values) {
		return fmt.Errorf("embedded: point %s: %d sparse indices, %d values", p.ID, len(sp.Indices), len(sp.Values))
	}
	for i, t := range sp.Indices {
		if i > 0 && t <= sp.Indices[i-1] {
			return fmt.Errorf("embedded: point %s: sparse indices not ascending and unique", p.ID)
		}
		if v := float64(sp.Values[i]); math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("embedded: point %s: sparse vector holds %v", p.ID, v)
		}
	}
	return nil
}

// append writes a frame to the log and wakes the compactor when the logs
// have grown enough. The caller holds writeMu.
func (s *Store) append(frame []byte) error {
	if err := s.log.append(frame); err != nil {
		return err
	}
	s.logBytes += int64(len(frame))
	s.maybeCompact()
	return nil
}

// maybeCompact wakes the compactor if the logs are due. The caller holds
// writeMu.
func (s *Store) maybeCompact() {
	if s.due() {
		select {
		case s.compactc <- struct{}{}:
		default:
		}
	}
}

// due reports whether the logs have outgrown the snapshot (and the
// CompactAfter floor), so that each compaction at least doubles the
// snapshot and the bytes rewritten stay within a constant factor of those
// written. The caller holds writeMu.
func (s *Store) due() bool {
	return s.logBytes >= max(s.opts.compactAfter, s.snapshotBytes.Load())
}

// DeleteDocument removes the points of document documentID except those
// whose ids are in keep, durably, and returns how many it removed.
// Concurrent calls (and upserts) are committed together, with one sync.
func (s *Store) DeleteDocument(ctx context.Context, documentID string, keep []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c, err := s.queueDelete(documentID, keep)
	if err != nil || c == nil {
		return 0, err
	}
	// Callers that queued changes meanwhile share this commit, or this
	// call shares theirs.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for !c.done {
		s.commit()
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.removed, nil
}

// queueDelete queues the removal of document documentID's points but
// those in keep, or returns nil when there are none.
func (s *Store) queueDelete(documentID string, keep []string) (*change, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return nil, vectors.ErrClosed
	}
	// The ids come from the index as committed. The change goes before
	// the changes already queued: an upsert queued before this call
	// (whose points it could not see) is applied after it, as if it had
	// come later; one queued after it comes later anyway.
	kept := make(map[string]bool, len(keep))
	for _, id := range keep {
		kept[id] = true
	}
	var ids []string
	for _, slot := range s.idx.documentSlots(documentID) {
		if id := s.idx.ids[slot]; !kept[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	fr := newFrame(kindDelete, len(ids), 40*len(ids))
	for _, id := range ids {
		fr.str(id)
	}
	c := &change{frame: fr, ids: ids}
	s.pendingMu.Lock()
	s.pending = append([]*change{c}, s.pending...)
	s.pendingMu.Unlock()
	return c, nil
}

// Search runs q. See vectors.Query for the defaults.
func (s *Store) Search(ctx context.Context, q vectors.Query) ([]vectors.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dense, sparse := len(q.Dense) > 0, len(q.Sparse.Indices) > 0
	switch {
	case dense && len(q.Dense) != s.dim:
		return nil, fmt.Errorf("embedded: query has %d dimensions, the store %d: %w", len(q.Dense), s.dim, vectors.ErrDimension)
	case !dense && !sparse:
		return nil, errors.New("embedded: query without a dense or sparse vector")
	case len(q.Sparse.Indices) != len(q.Sparse.Values):
		return nil, fmt.Errorf("embedded: query has %d sparse indices, %d values", len(q.Sparse.Indices), len(q.Sparse.Values))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	prefetch := q.Prefetch
	if prefetch <= 0 {
		prefetch = max(4*limit, 50)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, vectors.ErrClosed
	}
	ix := s.idx
	m := ix.matcher(q.Filter)
	workers := runtime.GOMAXPROCS(0)
	var rs []result
	switch {
	case dense && sparse:
		rs = ix.fuse(limit, ix.searchDense(q.Dense, m, prefetch, workers), ix.searchSparse(q.Sparse, m, prefetch, &s.pool))
	case dense:
		rs = ix.searchDense(q.Dense, m, limit, workers)
	default:
		rs = ix.searchSparse(q.Sparse, m, limit, &s.pool)
	}
	hits := make([]vectors.Hit, len(rs))
	for i, r := range rs {
		h := vectors.Hit{ID: ix.ids[r.slot], Score: r.score, Payload: ix.payloads[r.slot]}
		if extra := ix.extras[r.slot]; extra != nil {
			if err := json.Unmarshal(extra, &h.Payload.Extra); err != nil {
				return nil, fmt.Errorf("%w: payload extra of point %s: %v", ErrCorrupt, h.ID, err)
			}
		}
		hits[i] = h
	}
	return hits, nil
}

// Count counts the points matching f.
func (s *Store) Count(ctx context.Context, f vectors.Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, vectors.ErrClosed
	}
	return s.idx.count(s.idx.matcher(f)), nil
}

// Stats describes a store, for twin status.
type Stats struct {
	Points    int   // live points
	Terms     int   // distinct sparse term ids
	DiskBytes int64 // snapshot and logs
}

// Stats returns the store's current figures.
func (s *Store) Stats() Stats {
	var st Stats
	s.mu.RLock()
	if !s.closed {
		st.Points, st.Terms = s.idx.live, len(s.idx.terms)
	}
	s.mu.RUnlock()
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			st.DiskBytes += info.Size()
		}
	}
	return st
}

// Close stops background work, closes the files and releases the
// directory. Every acknowledged change is already on disk, so Close has
// nothing to flush. Calls after Close fail with vectors.ErrClosed.
func (s *Store) Close() error {
	s.closing.Store(true)
	s.stop()
	<-s.done
	s.compactMu.Lock() // wait out a Compact called by the user
	defer s.compactMu.Unlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return vectors.ErrClosed
	}
	s.mu.Lock()
	s.closed = true
	s.idx = nil
	s.mu.Unlock()
	err := s.log.close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// compactor compacts whenever an append wakes it, until ctx ends.
func (s *Store) compactor(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.compactc:
			compacted, err := s.compactIfDue(ctx)
			if !compacted {
				continue
			}
			if ctx.Err() != nil {
				return // Close interrupted it: not a failure
			}
			if s.opts.onCompact != nil {
				s.opts.onCompact(err)
			}
		}
	}
}

// compactIfDue compacts if the logs are due. Writes made during a
// compaction still count the log being folded, so they queue a wake-up
// that is stale once it is done: without this check, every compaction
// under load was followed by another of the same size.
func (s *Store) compactIfDue(ctx context.Context) (bool, error) {
	s.writeMu.Lock()
	due := s.due()
	s.writeMu.Unlock()
	if !due {
		return false, nil
	}
	return true, s.Compact(ctx)
}

// snapshotChunk is the number of slots a compaction copies per hold of
// the read lock, short enough not to delay writers noticeably.
const snapshotChunk = 2048

// Compact writes a snapshot of the store and removes the logs it makes
// redundant, so that the next Open reads one compact file. Searches and
// writes go on meanwhile: Compact first moves writers to a new log, then
// copies the index a chunk at a time. A copy taken while writers change
// the index can mix states, but only of points that the new log also
// changes, and replaying the new log over the snapshot fixes them up,
// since each record sets or deletes whole points.
func (s *Store) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	gen, err := s.rotate()
	if err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	return s.snapshot(ctx, gen)
}

// rotate moves writers to a new log and returns its gen.
func (s *Store) rotate() (uint64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return 0, vectors.ErrClosed
	}
	if s.log.broken != nil {
		return 0, s.log.broken
	}
	next, err := createLog(s.dir, s.dim, s.log.gen+1)
	if err != nil {
		return 0, err
	}
	s.log.close()
	s.log = next
	return next.gen, nil
}

// snapshot writes a snapshot holding every change made before the log of
// gen started, then removes the older logs.
func (s *Store) snapshot(ctx context.Context, gen uint64) error {
	sw, err := newSnapshotWriter(s.dir, s.dim, gen)
	if err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	for start := 0; ; start += snapshotChunk {
		if err := ctx.Err(); err != nil {
			sw.abort()
			return err
		}
		if s.closing.Load() {
			sw.abort()
			return vectors.ErrClosed
		}
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			sw.abort()
			return vectors.ErrClosed
		}
		ix := s.idx
		total := len(ix.ids) // slots are never given back, so this only grows
		end := min(start+snapshotChunk, total)
		n, size := 0, 0
		for slot := start; slot < end; slot++ {
			if ix.ids[slot] != "" {
				p := ix.point(uint32(slot))
				n, size = n+1, size+pointSize(&p, ix.extras[slot])
			}
		}
		fr := newFrame(kindUpsert, n, size)
		for slot := start; slot < end; slot++ {
			if ix.ids[slot] != "" {
				p := ix.point(uint32(slot))
				fr.point(&p, ix.extras[slot])
			}
		}
		s.mu.RUnlock()
		if n > 0 {
			if err := sw.frame(fr, n); err != nil {
				fr.release()
				sw.abort()
				return fmt.Errorf("embedded: compact: %w", err)
			}
		}
		fr.release()
		if end >= total {
			break
		}
	}
	if err := sw.commit(); err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	s.snapshotBytes.Store(sw.size)
	s.writeMu.Lock()
	s.logBytes = s.log.size - headerSize
	s.writeMu.Unlock()

	// The snapshot holds everything the older logs do.
	gens, err := logGens(s.dir)
	if err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	for _, g := range gens {
		if g < gen {
			if err := os.Remove(filepath.Join(s.dir, logName(g))); err != nil {
				return fmt.Errorf("embedded: compact: %w", err)
			}
		}
	}
	return nil
}
