package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The files under a store's directory:
//
//	LOCK             flock(2)ed while a store has the directory open
//	snapshot         every point as of some moment, and the gen of the first
//	                 log that may hold changes after that moment
//	log-<gen>        append-only records of upserts and deletes, gen in hex;
//	                 the highest gen is the one being appended to
//	snapshot.tmp     a snapshot being written; removed at Open
//
// Invariant: every acknowledged change is in the snapshot or in a log
// whose gen is at least the snapshot's. Replaying a record the snapshot
// already holds changes nothing, because every record sets or deletes
// whole points by id (the last record about an id wins).

const (
	snapshotName = "snapshot"
	snapshotTemp = "snapshot.tmp"
	logPrefix    = "log-"
)

func logName(gen uint64) string { return fmt.Sprintf("%s%016x", logPrefix, gen) }

// logGens lists the gens of the logs in dir, ascending.
func logGens(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gens []uint64
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), logPrefix)
		if !ok {
			continue
		}
		gen, err := strconv.ParseUint(name, 16, 64)
		if err != nil || len(name) != 16 {
			return nil, fmt.Errorf("%w: unexpected file %s", ErrCorrupt, e.Name())
		}
		gens = append(gens, gen)
	}
	slices.Sort(gens)
	return gens, nil
}

// syncDir makes the creation, rename or removal of files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errTorn marks the end of a log cut short by a crash: everything from
// the current frame on is the tail of one write that was never
// acknowledged.
var errTorn = errors.New("torn record")

// frameReader reads the frames that follow a file's header.
type frameReader struct {
	r    *bufio.Reader
	off  int64 // where the next frame starts
	size int64
	buf  []byte
}

func newFrameReader(f *os.File, size int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(io.NewSectionReader(f, headerSize, size-headerSize), 1<<20), off: headerSize, size: size}
}

// next returns the next frame's body, valid until the following call; io.EOF
// at the end, errTorn at a tail a crash can leave, an ErrCorrupt otherwise.
//
// Each commit writes one frame (a group of changes when calls came
// together) and syncs it before the next commit begins, so a crash can
// only damage the last frame, and only by leaving
// it short or with unwritten (zero) bytes: a frame that runs past the end
// of the file, or has a zero length, or fails its CRC with nothing but
// zeros after it. A bad frame followed by data is not a crash's doing.
func (fr *frameReader) next() ([]byte, error) {
	if fr.off == fr.size {
		return nil, io.EOF
	}
	if fr.size-fr.off < frameHeader {
		return nil, errTorn
	}
	var h [frameHeader]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return nil, err
	}
	n, sum := int64(binary.LittleEndian.Uint32(h[0:])), binary.LittleEndian.Uint32(h[4:])
	end := fr.off + frameHeader + n
	switch {
	case n == 0 || end > fr.size:
		return nil, errTorn
	case n > maxFrame:
		return nil, fmt.Errorf("%w: record of %d bytes at offset %d", ErrCorrupt, n, fr.off)
	}
	if int64(cap(fr.buf)) < n {
		fr.buf = make([]byte, n)
	}
	body := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, body); err != nil {
		return nil, err
	}
	if crc32.Checksum(body, castagnoli) != sum {
		zeros, err := onlyZeros(fr.r)
		if err != nil {
			return nil, err
		}
		if zeros {
			return nil, errTorn
		}
		return nil, fmt.Errorf("%w: bad checksum of the record at offset %d, with records after it", ErrCorrupt, fr.off)
	}
	fr.off = end
	return body, nil
}

func onlyZeros(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 0 }) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// logFile is the log being appended to.
type logFile struct {
	f    *os.File
	gen  uint64
	size int64
	// broken is set when a sync failed: what the file holds is then
	// unknown, so nothing more is appended until the store is reopened.
	broken error
}

// createLog creates an empty log; it is durable (file and directory
// entry) when createLog returns.
func createLog(dir string, dim int, gen uint64) (*logFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, logName(gen)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(appendHeader(nil, logMagic, dim, gen)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{f: f, gen: gen, size: headerSize}, nil
}

// openLog feeds the records of the log of gen to feed, in order, and
// returns the log open for appending, its torn tail (if any) cut off. A
// log shorter than its header is one whose creation a crash interrupted:
// it is created again.
func openLog(dir string, dim int, gen uint64, feed func(body []byte) error) (*logFile, error) {
	path := filepath.Join(dir, logName(gen))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() < headerSize {
		f.Close()
		return createLog(dir, dim, gen)
	}
	l := &logFile{f: f, gen: gen}
	if err := l.replay(dim, st.Size(), feed); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func (l *logFile) replay(dim int, size int64, feed func(body []byte) error) error {
	var h [headerSize]byte
	if _, err := l.f.ReadAt(h[:], 0); err != nil {
		return err
	}
	d, gen, err := parseHeader(h[:], logMagic)
	if err != nil {
		return err
	}
	if d != dim {
		return fmt.Errorf("%w: holds %d-dimensional vectors, not %d", vectors.ErrDimension, d, dim)
	}
	if gen != l.gen {
		return fmt.Errorf("%w: header says gen %d", ErrCorrupt, gen)
	}
	fr := newFrameReader(l.f, size)
	for {
		body, err := fr.next()
		switch {
		case err == io.EOF:
			l.size = fr.off
			return nil
		case errors.Is(err, errTorn):
			// The write a crash interrupted was never acknowledged.
			if err := l.f.Truncate(fr.off); err != nil {
				return err
			}
			if err := l.f.Sync(); err != nil {
				return err
			}
			l.size = fr.off
			return nil
		case err != nil:
			return err
		}
		if kind := body[0]; kind != kindUpsert && kind != kindDelete && kind != kindGroup {
			return fmt.Errorf("%w: record of kind %d at offset %d", ErrCorrupt, kind, fr.off)
		}
		if err := feed(body); err != nil {
			return err
		}
	}
}

// append writes a frame and syncs it. Invariant: a record is acknowledged
// (append returns nil) only after fsync, and the log always ends with a
// whole record, since a failed write is cut off before the next.
func (l *logFile) append(frame []byte) error {
	if l.broken != nil {
		return l.broken
	}
	if _, err := l.f.WriteAt(frame, l.size); err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.broken = fmt.Errorf("embedded: log unusable after a failed write (%v): %w", err, terr)
		}
		return fmt.Errorf("embedded: write log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		l.broken = fmt.Errorf("embedded: log unusable after a failed sync: %w", err)
		return l.broken
	}
	l.size += int64(len(frame))
	return nil
}

func (l *logFile) close() error { return l.f.Close() }

// loadSnapshot feeds the records of the snapshot in dir, if there is one,
// to feed, and returns the gen of the first log to replay after it and
// its size. A snapshot is complete when it is in place, so any damage is
// an error.
func loadSnapshot(dir string, dim int, feed func(body []byte) error) (gen uint64, size int64, err error) {
	path := filepath.Join(dir, snapshotName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	d, gen, err := parseHeader(h[:], snapshotMagic)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if d != dim {
		return 0, 0, fmt.Errorf("%s: %w: holds %d-dimensional vectors, not %d", path, vectors.ErrDimension, d, dim)
	}
	fr := newFrameReader(f, size)
	points := 0
	for {
		body, err := fr.next()
		if err == io.EOF || errors.Is(err, errTorn) {
			return 0, 0, fmt.Errorf("%s: %w: no end record", path, ErrCorrupt)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		// Only the end record is decoded here; the loader decodes the rest.
		d := &decoder{b: body}
		kind, n := d.byte(), int(d.uvarint())
		switch {
		case d.err != nil:
			return 0, 0, fmt.Errorf("%s: %w", path, d.err)
		case kind == kindEnd:
			if n != points || fr.off != size {
				return 0, 0, fmt.Errorf("%s: %w: end record says %d points, read %d", path, ErrCorrupt, n, points)
			}
			return gen, size, nil
		case kind != kindUpsert:
			return 0, 0, fmt.Errorf("%s: %w: record of kind %d in a snapshot", path, ErrCorrupt, kind)
		}
		points += n
		if err := feed(body); err != nil {
			return 0, 0, err
		}
	}
}

// snapshotWriter writes a snapshot to a temporary file and puts it in
// place at commit, so a snapshot is either whole or absent.
type snapshotWriter struct {
	dir    string
	f      *os.File
	w      *bufio.Writer
	points int
	size   int64
}

func newSnapshotWriter(dir string, dim int, gen uint64) (*snapshotWriter, error) {
	f, err := os.Create(filepath.Join(dir, snapshotTemp))
	if err != nil {
		return nil, err
	}
	sw := &snapshotWriter{dir: dir, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	sw.write(appendHeader(nil, snapshotMagic, dim, gen))
	return sw, nil
}

func (sw *snapshotWriter) write(b []byte) error {
	sw.size += int64(len(b))
	_, err := sw.w.Write(b)
	return err
}

func (sw *snapshotWriter) frame(fr *frame, points int) error {
	sw.points += points
	return sw.write(fr.bytes())
}

// commit ends the snapshot and makes it the current one, durably: data
// synced before the rename, directory synced after it.
func (sw *snapshotWriter) commit() error {
	if err := sw.write(newFrame(kindEnd, sw.points, 0).bytes()); err != nil {
		sw.abort()
		return err
	}
	if err := sw.w.Flush(); err != nil {
		sw.abort()
		return err
	}
	if err := sw.f.Sync(); err != nil {
		sw.abort()
		return err
	}
	if err := sw.f.Close(); err != nil {
		os.Remove(sw.f.Name())
		return err
	}
	if err := os.Rename(sw.f.Name(), filepath.Join(sw.dir, snapshotName)); err != nil {
		os.Remove(sw.f.Name())
		return err
	}
	return syncDir(sw.dir)
}

func (sw *snapshotWriter) abort() {
	sw.f.Close()
	os.Remove(sw.f.Name())
}
