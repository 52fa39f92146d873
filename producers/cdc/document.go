package cdc

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"

	"github.com/twin-llm/twin/internal/warehouse"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// encodeDocument is json.Marshal(d), byte for byte, without reflection: a
// CDC event carries the whole document, and its encoding was the tail's
// largest cost after reading the rows. It applies only while
// warehouse.Document has the fields it was written for (documentShape);
// otherwise, and for a time json.Marshal refuses, json.Marshal decides.
func encodeDocument(d *warehouse.Document) ([]byte, error) {
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

// documentShape is warehouse.Document's fields as encodeDocument writes
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
	t := reflect.TypeFor[warehouse.Document]()
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
