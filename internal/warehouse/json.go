package warehouse

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// MarshalDocument is json.Marshal(d), byte for byte, without reflection:
// documents are stored and carried as JSON, and on the ingest path their
// encoding and decoding cost more than anything else around them. It
// applies only while Document has the fields it was written for
// (documentShape); otherwise, and for a time json.Marshal refuses,
// json.Marshal decides.
func MarshalDocument(d *Document) ([]byte, error) {
	if !documentShapeKnown {
		return json.Marshal(d)
	}
	b := make([]byte, 0, len(d.Content)+len(d.Title)+len(d.Link)+512)
	b = append(b, `{"id":`...)
	b = jsonfast.AppendString(b, d.ID)
	b = append(b, `,"collection":`...)
	b = jsonfast.AppendString(b, d.Collection)
	for _, f := range [...]struct{ name, v string }{{`,"author_id":`, d.AuthorID}, {`,"author":`, d.Author},
		{`,"platform":`, d.Platform}, {`,"link":`, d.Link}, {`,"title":`, d.Title}, {`,"content":`, d.Content},
		{`,"language":`, d.Language}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = jsonfast.AppendString(b, f.v)
		}
	}
	if !d.PublishedAt.IsZero() {
		t, err := d.PublishedAt.MarshalJSON()
		if err != nil {
			return json.Marshal(d)
		}
		b = append(append(b, `,"published_at":`...), t...)
	}
	if len(d.Metadata) > 0 {
		keys := make([]string, 0, len(d.Metadata))
		for k := range d.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"metadata":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(jsonfast.AppendString(b, k), ':')
			b = jsonfast.AppendString(b, d.Metadata[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"content_hash":`...)
	b = jsonfast.AppendString(b, d.ContentHash)
	b = append(b, `,"revision":`...)
	b = strconv.AppendInt(b, d.Revision, 10)
	if d.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	t, err := d.UpdatedAt.MarshalJSON()
	if err != nil {
		return json.Marshal(d)
	}
	b = append(append(b, `,"updated_at":`...), t...)
	return append(b, '}'), nil
}

// documentShape is Document's fields as MarshalDocument writes
// them: name, type and json tag.
var documentShape = []string{
	"ID string id", "Collection string collection", "AuthorID string author_id,omitempty",
	"Author string author,omitempty", "Platform string platform,omitempty", "Link string link,omitempty",
	"Title string title,omitempty", "Content string content,omitempty", "Language string language,omitempty",
	"PublishedAt time.Time published_at,omitzero", "Metadata map[string]string metadata,omitempty",
	"ContentHash string content_hash", "Revision int64 revision", "Deleted bool deleted,omitempty",
	"UpdatedAt time.Time updated_at",
}

var documentShapeKnown = func() bool {
	t := reflect.TypeFor[Document]()
	if t.NumField() != len(documentShape) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Marshaler]()) {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name+" "+f.Type.String()+" "+f.Tag.Get("json") != documentShape[i] {
			return false
		}
	}
	return true
}()

// UnmarshalDocument reads a document into doc, which must be zero, exactly
// as json.Unmarshal would.
//
// Documents are written by MarshalDocument (or json.Marshal, or a
// json.Encoder without HTML escaping): one compact object, keys in field
// order. readDocument reads that shape in one pass, which json.Unmarshal (a
// validating scan, then a decoding one) takes several times longer to do;
// on anything else (an unknown or repeated key, a null, an escape it does
// not know, invalid UTF-8, ...) it gives up and json.Unmarshal decides,
// errors included.
func UnmarshalDocument(data []byte, doc *Document) error {
	if readDocument(data, doc) {
		return nil
	}
	*doc = Document{}
	return json.Unmarshal(data, doc)
}

// docReader reads one document; its methods return false to give up.
type docReader struct {
	data []byte
	i    int
	buf  []byte
}

func readDocument(data []byte, doc *Document) bool {
	r := docReader{data: data}
	if !r.byte('{') {
		return false
	}
	var seen uint32
	if r.byte('}') {
		return r.i == len(r.data)
	}
	for {
		key, ok := r.key()
		if !ok || !r.byte(':') {
			return false
		}
		bit, ok := documentKeys[string(key)]
		if !ok || seen&bit != 0 {
			return false // unknown (maybe a case twin), or repeated
		}
		seen |= bit
		switch string(key) {
		case "id":
			ok = r.str(&doc.ID)
		case "collection":
			ok = r.str(&doc.Collection)
		case "author_id":
			ok = r.str(&doc.AuthorID)
		case "author":
			ok = r.str(&doc.Author)
		case "platform":
			ok = r.str(&doc.Platform)
		case "link":
			ok = r.str(&doc.Link)
		case "title":
			ok = r.str(&doc.Title)
		case "content":
			ok = r.str(&doc.Content)
		case "language":
			ok = r.str(&doc.Language)
		case "content_hash":
			ok = r.str(&doc.ContentHash)
		case "published_at":
			ok = r.time(&doc.PublishedAt)
		case "updated_at":
			ok = r.time(&doc.UpdatedAt)
		case "revision":
			ok = r.int(&doc.Revision)
		case "deleted":
			ok = r.bool(&doc.Deleted)
		case "metadata":
			ok = r.metadata(&doc.Metadata)
		}
		if !ok {
			return false
		}
		if r.byte(',') {
			continue
		}
		return r.byte('}') && r.i == len(r.data)
	}
}

// documentKeys are Document's JSON names, each with its bit.
var documentKeys = func() map[string]uint32 {
	m := map[string]uint32{}
	for i, k := range []string{"id", "collection", "author_id", "author", "platform", "link", "title", "content",
		"language", "published_at", "metadata", "content_hash", "revision", "deleted", "updated_at"} {
		m[k] = 1 << i
	}
	return m
}()

// byte consumes c if it is next; json.Marshal writes no white space.
func (r *docReader) byte(c byte) bool {
	if r.i < len(r.data) && r.data[r.i] == c {
		r.i++
		return true
	}
	return false
}

// key reads an object key of plain ASCII.
func (r *docReader) key() ([]byte, bool) {
	if !r.byte('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.data) {
		c := r.data[r.i]
		if c == '"' {
			r.i++
			return r.data[start : r.i-1], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
		r.i++
	}
	return nil, false
}

// str reads a string (see jsonfast.ReadString).
func (r *docReader) str(dst *string) bool {
	v, next, buf, ok := jsonfast.ReadString(r.data, r.i, r.buf)
	r.buf = buf
	if ok {
		*dst, r.i = v, next
	}
	return ok
}

// time reads a time as json.Unmarshal does: its UnmarshalJSON on the quoted
// literal, which must hold no escape.
func (r *docReader) time(dst *time.Time) bool {
	start := r.i
	if !r.byte('"') {
		return false
	}
	end := bytes.IndexByte(r.data[r.i:], '"')
	if end < 0 || bytes.IndexByte(r.data[r.i:r.i+end], '\\') >= 0 {
		return false
	}
	r.i += end + 1
	return dst.UnmarshalJSON(r.data[start:r.i]) == nil
}

// int reads a plain integer that surely fits an int64.
func (r *docReader) int(dst *int64) bool {
	start := r.i
	if r.byte('-') && r.i < len(r.data) && r.data[r.i] == '0' {
		return false // -0: let json.Unmarshal say
	}
	digits := r.i
	for r.i < len(r.data) && '0' <= r.data[r.i] && r.data[r.i] <= '9' {
		r.i++
	}
	n := r.i - digits
	if n == 0 || n > 18 || n > 1 && r.data[digits] == '0' {
		return false
	}
	if r.i < len(r.data) && (r.data[r.i] == '.' || r.data[r.i] == 'e' || r.data[r.i] == 'E') {
		return false
	}
	v, err := strconv.ParseInt(string(r.data[start:r.i]), 10, 64)
	*dst = v
	return err == nil
}

func (r *docReader) bool(dst *bool) bool {
	switch {
	case bytes.HasPrefix(r.data[r.i:], []byte("true")):
		*dst = true
		r.i += 4
	case bytes.HasPrefix(r.data[r.i:], []byte("false")):
		r.i += 5
	default:
		return false
	}
	return true
}

// metadata reads an object of strings into a new map (json.Unmarshal makes
// one even for {}).
func (r *docReader) metadata(dst *map[string]string) bool {
	if !r.byte('{') {
		return false
	}
	m := map[string]string{}
	if !r.byte('}') {
		for {
			var k, v string
			if !r.str(&k) || !r.byte(':') || !r.str(&v) {
				return false
			}
			if _, dup := m[k]; dup {
				return false
			}
			m[k] = v
			if r.byte(',') {
				continue
			}
			if !r.byte('}') {
				return false
			}
			break
		}
	}
	*dst = m
	return true
}
