package qdrant

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/qdrant/go-client/qdrant"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// Payload keys: the json names of vectors.Payload, so a point reads the
// same in Qdrant's dashboard as in twin's JSON.
const (
	fieldDocumentID = "document_id"
	fieldAuthorID   = "author_id"
	fieldAuthor     = "author"
	fieldCategory   = "category"
	fieldPlatform   = "platform"
	fieldLink       = "link"
	fieldTitle      = "title"
	fieldChunkIndex = "chunk_index"
	fieldText       = "text"
	fieldExtra      = "extra"
)

// toPayload maps a payload field by field; Extra becomes one nested object
// under "extra", so its keys can never shadow a first-class field.
func toPayload(p vectors.Payload) (map[string]*qdrant.Value, error) {
	m := map[string]*qdrant.Value{
		fieldDocumentID: qdrant.NewValueString(p.DocumentID),
		fieldAuthorID:   qdrant.NewValueString(p.AuthorID),
		fieldAuthor:     qdrant.NewValueString(p.Author),
		fieldCategory:   qdrant.NewValueString(p.Category),
		fieldPlatform:   qdrant.NewValueString(p.Platform),
		fieldLink:       qdrant.NewValueString(p.Link),
		fieldTitle:      qdrant.NewValueString(p.Title),
		fieldChunkIndex: qdrant.NewValueInt(int64(p.ChunkIndex)),
		fieldText:       qdrant.NewValueString(p.Text),
	}
	if len(p.Extra) > 0 {
		extra, err := jsonValue(p.Extra)
		if err != nil {
			return nil, fmt.Errorf("payload extra: %w", err)
		}
		m[fieldExtra] = extra
	}
	return m, nil
}

// jsonValue converts any JSON-encodable value into a Qdrant value. It goes
// through encoding/json because Extra holds whatever the caller put there
// ([]string, structs, map[string]int...), while qdrant.NewValue takes only
// the shapes json.Unmarshal produces. Whole numbers become Qdrant integers,
// others doubles.
func jsonValue(v any) (*qdrant.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return qdrant.NewValue(numbersToGo(generic))
}

// numbersToGo replaces json.Numbers (from a UseNumber decode) with int64 or
// float64, recursively.
func numbersToGo(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = numbersToGo(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = numbersToGo(e)
		}
		return v
	default:
		return v
	}
}

// fromPayload reads a payload back. Missing keys leave zero values, so
// points written by other tools do not fail a search.
func fromPayload(m map[string]*qdrant.Value) vectors.Payload {
	p := vectors.Payload{
		DocumentID: m[fieldDocumentID].GetStringValue(),
		AuthorID:   m[fieldAuthorID].GetStringValue(),
		Author:     m[fieldAuthor].GetStringValue(),
		Category:   m[fieldCategory].GetStringValue(),
		Platform:   m[fieldPlatform].GetStringValue(),
		Link:       m[fieldLink].GetStringValue(),
		Title:      m[fieldTitle].GetStringValue(),
		Text:       m[fieldText].GetStringValue(),
	}
	switch ci := m[fieldChunkIndex].GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		p.ChunkIndex = int(ci.IntegerValue)
	case *qdrant.Value_DoubleValue:
		p.ChunkIndex = int(ci.DoubleValue)
	}
	if fields := m[fieldExtra].GetStructValue().GetFields(); len(fields) > 0 {
		p.Extra = make(map[string]any, len(fields))
		for k, v := range fields {
			p.Extra[k] = goValue(v)
		}
	}
	return p
}

// goValue is the inverse of jsonValue, with encoding/json's types (numbers
// as float64), so Extra reads back as it would from twin's JSON messages.
func goValue(v *qdrant.Value) any {
	switch k := v.GetKind().(type) {
	case *qdrant.Value_BoolValue:
		return k.BoolValue
	case *qdrant.Value_IntegerValue:
		return float64(k.IntegerValue)
	case *qdrant.Value_DoubleValue:
		return k.DoubleValue
	case *qdrant.Value_StringValue:
		return k.StringValue
	case *qdrant.Value_ListValue:
		list := make([]any, 0, len(k.ListValue.GetValues()))
		for _, e := range k.ListValue.GetValues() {
			list = append(list, goValue(e))
		}
		return list
	case *qdrant.Value_StructValue:
		m := make(map[string]any, len(k.StructValue.GetFields()))
		for key, e := range k.StructValue.GetFields() {
			m[key] = goValue(e)
		}
		return m
	default: // null, or unset
		return nil
	}
}

// toFilter turns set membership into Qdrant's "match any" on keyword
// fields, one must condition per non-empty set (so the sets are AND-ed);
// nil when nothing narrows.
func toFilter(f vectors.Filter) *qdrant.Filter {
	var must []*qdrant.Condition
	for _, c := range []struct {
		field  string
		values []string
	}{
		{fieldDocumentID, f.DocumentIDs},
		{fieldAuthorID, f.AuthorIDs},
		{fieldCategory, f.Categories},
		{fieldPlatform, f.Platforms},
	} {
		if len(c.values) > 0 {
			must = append(must, qdrant.NewMatchKeywords(c.field, c.values...))
		}
	}
	if len(must) == 0 {
		return nil
	}
	return &qdrant.Filter{Must: must}
}
