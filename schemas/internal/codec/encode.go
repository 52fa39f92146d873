package codec

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// The fast path of schemas.Encode.
//
// json.Marshal spends most of its time on the feature pipeline's messages in
// two places: escaping the long strings byte by byte, and re-validating and
// compacting a json.RawMessage with its scanner. The fast path writes the
// same bytes as json.Marshal, eight string bytes at a time where nothing
// needs escaping, and copies a raw message that its strict reader
// (fastParser.skip) finds compact as it is.
//
// Invariant: the output is byte for byte json.Marshal's
// (TestEncodeIsJSONMarshal, FuzzEncode). It covers structs of strings,
// integers, booleans, time.Time, json.RawMessage, maps of strings to
// strings, nested structs, pointers to them and slices of them; a type with
// anything else (floats, other maps, custom marshalers) always goes through
// json.Marshal, and so does a value
// the fast path finds unusual (a raw message with spaces, a time
// MarshalJSON refuses), which also makes json.Marshal report any error.

type encKind uint8

const (
	ekString encKind = iota
	ekBool
	ekInt
	ekUint
	ekTime
	ekRaw
	ekStruct
	ekPtr       // to a struct
	ekSlice     // of structs
	ekStringMap // map[string]string
)

type encStruct struct {
	fields []encField
}

type encField struct {
	name      string // `"name":`
	index     int
	kind      encKind
	omitEmpty bool
	omitZero  bool
	elem      *encStruct // ekStruct, ekSlice
}

var encoders sync.Map // reflect.Type → *encStruct, or nil when not eligible

// encodeBuffers are the fast path's scratch: a body is built in one and
// copied out at its exact size.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Encode returns the JSON of v (a struct or a pointer to one) as
// json.Marshal writes it, or false when the fast path does not cover v.
func Encode(v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	e := encoderFor(rv.Type())
	if e == nil {
		return nil, false
	}
	buf := encodeBuffers.Get().(*[]byte)
	defer encodeBuffers.Put(buf)
	b, ok := e.encode((*buf)[:0], rv)
	if cap(b) <= 1<<20 {
		*buf = b[:0] // keep the grown buffer, unless a rare giant
	}
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// Encodes reports whether the fast path covers values of the struct type t
// (or of a pointer to one).
// It may still hand a value to json.Marshal (see above).
func Encodes(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return encoderFor(t) != nil
}

// encoderFor returns the fast encoder of struct type t, or nil.
func encoderFor(t reflect.Type) *encStruct {
	if e, ok := encoders.Load(t); ok {
		return e.(*encStruct)
	}
	e := compileEncoder(t, 0)
	encoders.Store(t, e)
	return e
}

func compileEncoder(t reflect.Type, depth int) *encStruct {
	if t.Kind() != reflect.Struct || depth > 8 || marshalsItself(t) {
		return nil
	}
	e := &encStruct{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		name, ok := JSONName(sf)
		if !ok {
			continue
		}
		_, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		f := encField{index: i}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			case "":
			default:
				return nil // ",string" and the like
			}
		}
		if !plainName(name) {
			return nil
		}
		f.name = strconv.Quote(name) + ":"
		ft := sf.Type
		switch {
		case ft == timeType:
			f.kind = ekTime
		case ft == rawType:
			f.kind = ekRaw
		case marshalsItself(ft):
			return nil
		case ft.Kind() == reflect.String:
			f.kind = ekString
		case ft.Kind() == reflect.Bool:
			f.kind = ekBool
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
			f.kind = ekInt
		case ft.Kind() >= reflect.Uint && ft.Kind() <= reflect.Uintptr:
			f.kind = ekUint
		case ft.Kind() == reflect.Struct:
			f.kind, f.elem = ekStruct, compileEncoder(ft, depth+1)
			if f.elem == nil {
				return nil
			}
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			f.kind, f.elem = ekPtr, compileEncoder(ft.Elem(), depth+1)
			if f.elem == nil {
				return nil
			}
		case ft == reflect.TypeFor[map[string]string]():
			f.kind = ekStringMap
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !marshalsItself(ft):
			f.kind, f.elem = ekSlice, compileEncoder(ft.Elem(), depth+1)
			if f.elem == nil {
				return nil
			}
		default:
			return nil
		}
		if f.omitZero && f.kind != ekTime && f.kind != ekStruct || f.omitZero && f.omitEmpty {
			return nil // keep to the combinations whose rules are checked below
		}
		e.fields = append(e.fields, f)
	}
	return e
}

// plainName is a field name json.Marshal writes as it is.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !jsonfast.HTMLSafe(s[i]) {
			return false
		}
	}
	return s != ""
}

func marshalsItself(t reflect.Type) bool {
	return t.Implements(reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()) ||
		t.Implements(reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]())
}

// encode appends the JSON of struct v, or reports false.
func (e *encStruct) encode(b []byte, v reflect.Value) ([]byte, bool) {
	b = append(b, '{')
	first := true
	for i := range e.fields {
		f := &e.fields[i]
		fv := v.Field(f.index)
		if f.omitted(fv) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.name...)
		var ok bool
		if b, ok = f.value(b, fv); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

func (f *encField) omitted(fv reflect.Value) bool {
	switch {
	case f.omitZero && f.kind == ekTime:
		return timeOf(fv).IsZero()
	case f.omitZero:
		return fv.IsZero()
	case !f.omitEmpty:
		return false
	}
	switch f.kind {
	case ekString:
		return fv.Len() == 0
	case ekBool:
		return !fv.Bool()
	case ekInt:
		return fv.Int() == 0
	case ekUint:
		return fv.Uint() == 0
	case ekRaw, ekSlice, ekStringMap:
		return fv.Len() == 0
	case ekPtr:
		return fv.IsNil()
	}
	return false // structs and times are never empty to omitempty
}

func (f *encField) value(b []byte, fv reflect.Value) ([]byte, bool) {
	switch f.kind {
	case ekString:
		return jsonfast.AppendString(b, fv.String()), true
	case ekBool:
		return strconv.AppendBool(b, fv.Bool()), true
	case ekInt:
		return strconv.AppendInt(b, fv.Int(), 10), true
	case ekUint:
		return strconv.AppendUint(b, fv.Uint(), 10), true
	case ekTime:
		// MarshalJSON's bytes (both append the strict RFC 3339 form),
		// without its allocation.
		out, err := timeOf(fv).AppendText(append(b, '"'))
		if err != nil {
			return b, false
		}
		return append(out, '"'), true
	case ekRaw:
		raw := fv.Bytes()
		if raw == nil {
			return append(b, "null"...), true
		}
		return appendCompactRaw(b, raw)
	case ekStruct:
		return f.elem.encode(b, fv)
	case ekPtr:
		if fv.IsNil() {
			return append(b, "null"...), true
		}
		return f.elem.encode(b, fv.Elem())
	case ekStringMap:
		return appendStringMap(b, fv.Interface().(map[string]string)), true
	case ekSlice:
		if fv.IsNil() {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i := 0; i < fv.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = f.elem.encode(b, fv.Index(i)); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// timeOf reads a time field; through its address when it has one, since
// Interface copies a struct to the heap.
func timeOf(fv reflect.Value) time.Time {
	if fv.CanAddr() {
		return *fv.Addr().Interface().(*time.Time)
	}
	return fv.Interface().(time.Time)
}

// appendStringMap appends m as json.Marshal does: null when nil, else the
// keys in sorted order.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonfast.AppendString(b, k), ':')
		b = jsonfast.AppendString(b, m[k])
	}
	return append(b, '}')
}

// appendCompactRaw appends a raw message as json.Marshal does (compacted,
// with <, > and & and U+2028 and U+2029 escaped in its strings), but only
// when it is already compact, valid and free of those: else false.
func appendCompactRaw(b []byte, raw []byte) ([]byte, bool) {
	p := fastParser{data: raw}
	if len(raw) == 0 || !p.skip(0) || p.i != len(raw) || p.spaced {
		return b, false
	}
	// In valid JSON these bytes can only be inside strings.
	if bytes.IndexByte(raw, '<') >= 0 || bytes.IndexByte(raw, '>') >= 0 || bytes.IndexByte(raw, '&') >= 0 {
		return b, false
	}
	for rest := raw; ; {
		i := bytes.Index(rest, []byte("\xe2\x80"))
		if i < 0 {
			break
		}
		if i+2 < len(rest) && rest[i+2]&^1 == 0xA8 {
			return b, false
		}
		rest = rest[i+2:]
	}
	return append(b, raw...), true
}
