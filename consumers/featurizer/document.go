package featurizer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/warehouse"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// decodeDocument reads the document a CDC event carries into doc, which must
// be zero, exactly as json.Unmarshal would.
//
// The CDC producer writes documents with json.Marshal: one compact object,
// keys in field order, strings escaped the standard way. readDocument reads
// that shape in one pass, which json.Unmarshal (a validating scan, then a
// decoding one) takes several times longer to do; on anything else (an
// unknown or repeated key, a null, an escape it does not know, invalid
// UTF-8, ...) it gives up and json.Unmarshal decides, errors included.
func decodeDocument(data []byte, doc *warehouse.Document) error {
	if readDocument(data, doc) {
		return nil
	}
	*doc = warehouse.Document{}
	return json.Unmarshal(data, doc)
}

// docReader reads one document; its methods return false to give up.
type docReader struct {
	data []byte
	i    int
	buf  []byte
}

func readDocument(data []byte, doc *warehouse.Document) bool {
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

// documentKeys are warehouse.Document's JSON names, each with its bit.
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
