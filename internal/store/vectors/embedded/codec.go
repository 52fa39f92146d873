package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The on-disk encoding. Both files, the log and the snapshot, are a header
// followed by frames:
//
//	header: magic [8]byte, version uint32, dim uint32, gen uint64
//	frame:  length uint32, crc uint32 (CRC-32C of body), body [length]byte
//	body:   kind byte, then for
//	  kindUpsert: count uvarint, count points
//	  kindDelete: count uvarint, count ids
//	  kindEnd:    count uvarint (points in the snapshot; its last frame)
//	  kindGroup:  count uvarint, count × (length uvarint, upsert or delete
//	              body): changes of concurrent calls committed together
//	point:  id, dense [dim]float32 (normalized), terms uvarint,
//	        terms × (index uint32, value float32), document id, author id,
//	        author, category, platform, link, title, chunk index varint,
//	        text, extra (JSON object, or empty for none)
//
// Strings are a uvarint length and bytes; numbers are little endian.

const (
	logMagic      = "TWINVLOG"
	snapshotMagic = "TWINVSNP"
	version       = 1
	headerSize    = 24
	frameHeader   = 8

	// maxFrame bounds a frame's body, so that a damaged length cannot
	// make Open allocate without limit; an Upsert larger than that must
	// be split by the caller.
	maxFrame = 1 << 30
)

const (
	kindUpsert byte = 1
	kindDelete byte = 2
	kindEnd    byte = 3
	kindGroup  byte = 4
)

// ErrCorrupt is a data file damaged in a way a crash cannot explain: a bad
// header, a bad snapshot, or a bad record with valid data after it.
var ErrCorrupt = errors.New("embedded: corrupt data file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendHeader(b []byte, magic string, dim int, gen uint64) []byte {
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint32(b, uint32(dim))
	return binary.LittleEndian.AppendUint64(b, gen)
}

func parseHeader(b []byte, magic string) (dim int, gen uint64, err error) {
	if len(b) < headerSize || string(b[:8]) != magic {
		return 0, 0, fmt.Errorf("%w: not a %s file", ErrCorrupt, magic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return 0, 0, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, v, version)
	}
	return int(binary.LittleEndian.Uint32(b[12:])), binary.LittleEndian.Uint64(b[16:]), nil
}

// frame is a body being encoded, behind room for its frame header.
type frame struct{ b []byte }

// body is the frame's body so far.
func (f *frame) body() []byte { return f.b[frameHeader:] }

// groupFrame is the frame of several changes committed with one write.
func groupFrame(frames []*frame) *frame {
	size := 0
	for _, f := range frames {
		size += len(f.body()) + binary.MaxVarintLen64
	}
	g := newFrame(kindGroup, len(frames), size)
	for _, f := range frames {
		g.b = binary.AppendUvarint(g.b, uint64(len(f.body())))
		g.b = append(g.b, f.body()...)
	}
	return g
}

// frameBuffers keeps frame buffers between writes. A batch's frame is
// megabytes, and allocating each afresh had the runtime zero and the
// collector sweep gigabytes over a bulk load. Unlike a sync.Pool it keeps
// them across collections: fresh memory costs a page fault a page.
var frameBuffers freeList[[]byte]

// maxPooledFrame bounds the buffers frameBuffers keeps.
const maxPooledFrame = 32 << 20

// newFrame starts a frame of count elements whose body will take about
// size bytes. Release it once its bytes are written.
func newFrame(kind byte, count, size int) *frame {
	b, _ := frameBuffers.get()
	b = slices.Grow(b[:0], frameHeader+size+16)[:frameHeader]
	f := &frame{b: b}
	f.b = append(f.b, kind)
	f.b = binary.AppendUvarint(f.b, uint64(count))
	return f
}

// freeList is a small stack of buffers for reuse, safe for concurrent
// use.
type freeList[T any] struct {
	mu   sync.Mutex // guards free
	free []T
}

// maxFree bounds how many buffers a free list keeps: a few batches in
// flight and a compaction.
const maxFree = 4

func (l *freeList[T]) get() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var v T
	if n := len(l.free); n > 0 {
		v = l.free[n-1]
		l.free = l.free[:n-1]
		return v, true
	}
	return v, false
}

func (l *freeList[T]) put(v T) {
	l.mu.Lock()
	if len(l.free) < maxFree {
		l.free = append(l.free, v)
	}
	l.mu.Unlock()
}

// release gives the frame's buffer back for reuse: the frame must not be
// used after.
func (f *frame) release() {
	if f == nil || f.b == nil {
		return
	}
	if cap(f.b) <= maxPooledFrame {
		frameBuffers.put(f.b[:0])
	}
	f.b = nil
}

// bytes fills in the frame header and returns the whole frame.
func (f *frame) bytes() []byte {
	body := f.body()
	binary.LittleEndian.PutUint32(f.b[0:], uint32(len(body)))
	binary.LittleEndian.PutUint32(f.b[4:], crc32.Checksum(body, castagnoli))
	return f.b
}

func (f *frame) str(s string) {
	f.b = binary.AppendUvarint(f.b, uint64(len(s)))
	f.b = append(f.b, s...)
}

// pointSize is about the bytes that point takes for p.
func pointSize(p *vectors.Point, extra []byte) int {
	pl := &p.Payload
	return 4*len(p.Dense) + 8*len(p.Sparse.Indices) + len(p.ID) + len(pl.DocumentID) + len(pl.AuthorID) +
		len(pl.Author) + len(pl.Category) + len(pl.Platform) + len(pl.Link) + len(pl.Title) +
		len(pl.Text) + len(extra) + 12*binary.MaxVarintLen32
}

// point appends p, whose Dense is normalized and extra is the JSON of its
// Payload.Extra.
func (f *frame) point(p *vectors.Point, extra []byte) {
	f.b = slices.Grow(f.b, pointSize(p, extra))
	f.str(p.ID)
	f.b = appendFloats(f.b, p.Dense)
	f.b = binary.AppendUvarint(f.b, uint64(len(p.Sparse.Indices)))
	n := len(f.b)
	f.b = f.b[:n+8*len(p.Sparse.Indices)]
	for i, t := range p.Sparse.Indices {
		binary.LittleEndian.PutUint32(f.b[n+8*i:], t)
		binary.LittleEndian.PutUint32(f.b[n+8*i+4:], math.Float32bits(p.Sparse.Values[i]))
	}
	pl := &p.Payload
	for _, s := range []string{pl.DocumentID, pl.AuthorID, pl.Author, pl.Category, pl.Platform, pl.Link, pl.Title} {
		f.str(s)
	}
	f.b = binary.AppendVarint(f.b, int64(pl.ChunkIndex))
	f.str(pl.Text)
	f.b = binary.AppendUvarint(f.b, uint64(len(extra)))
	f.b = append(f.b, extra...)
}

// littleEndian is whether this machine stores numbers as the files do.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// appendFloats appends xs as little-endian float32s: on a little-endian
// machine a copy of their memory, which is what a point is mostly made of.
func appendFloats(b []byte, xs []float32) []byte {
	if littleEndian && len(xs) > 0 {
		return append(b, unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), 4*len(xs))...)
	}
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// decoder reads a frame body; the first error sticks and later reads
// return zero values, so a caller checks err once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("kind")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail("number")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) str() string { return string(d.bytes()) }

// count reads an element count, which cannot exceed the bytes left when
// each element takes at least min bytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail("list")
		return 0
	}
	return int(n)
}

// point reads a point and the JSON of its Extra, which stays encoded
// until a search returns the point.
func (d *decoder) point(dim int) (vectors.Point, []byte) {
	var p vectors.Point
	p.ID = d.str()
	if len(d.b) < 4*dim {
		d.fail("vector")
		return p, nil
	}
	p.Dense = make([]float32, dim)
	for i := range p.Dense {
		p.Dense[i] = math.Float32frombits(binary.LittleEndian.Uint32(d.b[4*i:]))
	}
	d.b = d.b[4*dim:]
	if n := d.count(8); n > 0 {
		p.Sparse.Indices = make([]uint32, n)
		p.Sparse.Values = make([]float32, n)
		for i := range n {
			p.Sparse.Indices[i] = d.uint32()
			p.Sparse.Values[i] = math.Float32frombits(d.uint32())
		}
	}
	pl := &p.Payload
	for _, s := range []*string{&pl.DocumentID, &pl.AuthorID, &pl.Author, &pl.Category, &pl.Platform, &pl.Link, &pl.Title} {
		*s = d.str()
	}
	pl.ChunkIndex = int(d.varint())
	pl.Text = d.str()
	var extra []byte
	if b := d.bytes(); len(b) > 0 {
		extra = bytes.Clone(b)
	}
	return p, extra
}

// op is one decoded frame.
type op struct {
	kind   byte
	points []vectors.Point // kindUpsert
	extras [][]byte        // kindUpsert: the JSON of each point's Extra
	ids    []string        // kindDelete
	count  int             // kindEnd
	group  []op            // kindGroup
}

// decodeOp decodes a frame body; a group is only allowed at the top, as
// nested inside holds either an upsert or a delete.
func decodeOp(body []byte, dim int) (op, error) { return decodeBody(body, dim, true) }

func decodeBody(body []byte, dim int, top bool) (op, error) {
	d := &decoder{b: body}
	o := op{kind: d.byte()}
	switch o.kind {
	case kindGroup:
		if !top {
			d.err = fmt.Errorf("%w: nested group", ErrCorrupt)
			break
		}
		n := d.count(2)
		for range n {
			sub, err := decodeBody(d.bytes(), dim, false)
			if d.err != nil {
				break
			}
			if err != nil || sub.kind != kindUpsert && sub.kind != kindDelete {
				d.err = fmt.Errorf("%w: bad change in a group: %v", ErrCorrupt, err)
				break
			}
			o.group = append(o.group, sub)
		}
	case kindUpsert:
		n := d.count(1 + 4*dim)
		o.points = make([]vectors.Point, n)
		o.extras = make([][]byte, n)
		for i := range n {
			o.points[i], o.extras[i] = d.point(dim)
		}
	case kindDelete:
		n := d.count(1)
		o.ids = make([]string, 0, n)
		for range n {
			o.ids = append(o.ids, d.str())
		}
	case kindEnd:
		if !top {
			d.err = fmt.Errorf("%w: end record in a group", ErrCorrupt)
			break
		}
		o.count = int(d.uvarint())
	default:
		if d.err == nil {
			d.err = fmt.Errorf("%w: record kind %d", ErrCorrupt, o.kind)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after a record", ErrCorrupt, len(d.b))
	}
	return o, d.err
}
