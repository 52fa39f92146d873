package schemas

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/twin-llm/twin/schemas/internal/codec"
)

// structFields lists the JSON names of a struct type's fields. encoding/json
// matches an object's keys to field names case-insensitively when there is no
// exact match, while the schema compares them exactly; so {"kind":"post",
// "KIND":"bogus"} would pass the schema and decode Kind as "bogus". Decode
// uses structFields to refuse such keys.
type structFields struct {
	// names maps each exact JSON name to the fields of the struct its value
	// holds (directly, through a pointer or as slice elements), or nil.
	names map[string]*structFields
}

// jsonFields returns the fields of t, or nil if t is not a struct decoded
// field by field (time.Time and json.RawMessage decode themselves).
func jsonFields(t reflect.Type) *structFields {
	return buildFields(t, make(map[reflect.Type]*structFields))
}

func buildFields(t reflect.Type, seen map[reflect.Type]*structFields) *structFields {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || codec.DecodesItself(t) {
		return nil
	}
	if f, ok := seen[t]; ok {
		return f // a recursive type: share the node
	}
	f := &structFields{names: make(map[string]*structFields)}
	seen[t] = f
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, ok := codec.JSONName(sf)
		if !ok {
			continue
		}
		f.names[name] = buildFields(sf.Type, seen)
	}
	return f
}

// caseMismatch walks a decoded JSON value alongside f and returns the path of
// an object key that is not a field name but equals one ignoring case, with
// that field name, or "" if there is none. Of several it returns the smallest
// path, so the same body always yields the same error.
func (f *structFields) caseMismatch(doc any) (field, known string) {
	if f == nil {
		return "", ""
	}
	found := func(p, k string) {
		if field == "" || p < field {
			field, known = p, k
		}
	}
	switch doc := doc.(type) {
	case []any:
		for i, elem := range doc {
			if p, k := f.caseMismatch(elem); p != "" {
				found(strconv.Itoa(i)+"/"+p, k)
			}
		}
	case map[string]any:
		for key, val := range doc {
			inner, ok := f.names[key]
			if ok {
				if p, k := inner.caseMismatch(val); p != "" {
					found(escapeToken(key)+"/"+p, k)
				}
				continue
			}
			// Unknown keys are rare (a newer producer's fields), so a linear
			// scan costs nothing on the common path.
			for name := range f.names {
				if strings.EqualFold(key, name) {
					found(escapeToken(key), name)
				}
			}
		}
	}
	return field, known
}

// escapeToken escapes a key as an RFC 6901 token, so a key holding '/' stays
// one token of a path.
func escapeToken(key string) string {
	key = strings.ReplaceAll(key, "~", "~0")
	return strings.ReplaceAll(key, "/", "~1")
}
