package codec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// The fast path of schemas.Decode.
//
// The general path parses a body twice (into a generic value for the JSON
// Schema validator, then into the Go type) and the validator copies every
// string it checks, which made decoding the largest cost of the feature
// pipeline, whose messages carry whole documents. The fast path reads a
// body once, straight into the Go type, checking the schema's keywords as
// it goes.
//
// Invariant: the fast path only ever accepts. It knows the keywords of the
// hot schemas and bodies in their plain form; on anything else (any error,
// an escape in a key, a number written 1.0, a duplicate or case-twin key,
// invalid UTF-8, deep nesting, ...) it gives up and Decode takes the general
// path of schemas.Decode, which decides and reports as it always did. So every refusal, and
// every error message, comes from the general path, and a body the fast
// path accepts is one the general path would accept with the same result
// (schemas' TestFastPathAgreesWithGeneralPath and FuzzFastPathAgrees hold it
// to that: they need the general path, which is the schemas package's).
//
// A schema uses the fast path only if every keyword it has is one the fast
// path checks exactly (see fastCompiler.value), and every property maps to a
// field of a supported Go type and the other way around; the others always
// take the general path.

// fastKind is how a value is read and stored.
type fastKind uint8

const (
	fkString    fastKind = iota // JSON string into a string field
	fkTime                      // JSON string into a time.Time (its UnmarshalJSON)
	fkInt                       // JSON integer into a signed integer field
	fkUint                      // JSON integer into an unsigned integer field
	fkFloat                     // JSON number into a float field
	fkBool                      // true or false into a bool field
	fkRaw                       // any JSON object, kept as json.RawMessage
	fkRawAny                    // any JSON value but null, kept as json.RawMessage
	fkStruct                    // JSON object with properties into a struct
	fkPtr                       // JSON object into a new struct behind a pointer
	fkSlice                     // JSON array into a slice
	fkStringMap                 // JSON object of strings into a map[string]string
)

// fastValue is one schema node compiled against the Go type it fills.
type fastValue struct {
	kind fastKind
	bits int // of integer and float fields, for the overflow check

	// strings
	minLen, maxLen int // in runes; -1 when the schema has none
	pattern        *regexp.Regexp
	enum           []string // also a const, as a one-word enum
	dateTime       bool

	// numbers
	integerOnly bool  // the schema's type is integer
	hasMin      bool  // minimum, an integer
	min         int64 // (for floats only 0 is supported: no '-' at all)

	obj      *fastObject  // fkStruct, fkPtr
	elem     *fastValue   // fkSlice: the items; fkStringMap: the values
	elemType reflect.Type // fkSlice: the slice's element type; fkPtr: the struct
	sliceTyp reflect.Type // fkSlice; fkStringMap: the map type
}

// fastObject is an object schema compiled against a struct type.
type fastObject struct {
	props    map[string]*fastProp
	names    []string // every JSON field name of the struct, for the case check
	required uint64   // bits of the required properties
}

type fastProp struct {
	bit   uint64
	field int // index in the struct
	val   fastValue
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// Decoder reads the bodies of one schema into values of one struct type,
// in one pass.
type Decoder struct {
	obj *fastObject
}

// NewDecoder compiles the schema document (as encoding/json decodes it,
// numbers as json.Number) for the struct type t, or returns nil when the
// fast path cannot decode it exactly. resolve returns the document a "$ref"
// names (another schema file), or nil.
func NewDecoder(schema any, t reflect.Type, resolve func(ref string) any) *Decoder {
	obj := compileFast(schema, t, resolve)
	if obj == nil {
		return nil
	}
	return &Decoder{obj: obj}
}

// Decode reads data into the struct v (addressable, zero) and reports
// whether it could. On false v holds garbage and the general path must
// decide.
func (d *Decoder) Decode(data []byte, v reflect.Value) bool {
	return fastDecode(d.obj, data, v)
}

// compileFast compiles the schema document (as encoding/json decodes it,
// numbers as json.Number) for the struct type t, or returns nil when the
// fast path cannot decode it exactly. resolve returns the document a "$ref"
// names (another schema file of this package), or nil.
func compileFast(schema any, t reflect.Type, resolve func(ref string) any) *fastObject {
	c := fastCompiler{resolve: resolve}
	v, ok := c.value(schema, t, 0)
	if !ok || v.kind != fkStruct {
		return nil
	}
	return v.obj
}

// fastCompiler compiles one schema; depth bounds the nesting it follows,
// so that a recursive schema on a recursive type gives up instead.
type fastCompiler struct {
	resolve func(ref string) any
}

// fastCompileDepth bounds the nesting of schemas the fast path compiles.
const fastCompileDepth = 16

// annotations are keywords that do not constrain a value.
var annotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "examples": true}

func (c fastCompiler) value(schema any, t reflect.Type, depth int) (fastValue, bool) {
	s, ok := schema.(map[string]any)
	if !ok || depth > fastCompileDepth {
		return fastValue{}, false // a boolean schema: rare, general path
	}
	if ref, has := s["$ref"]; has {
		// A reference with nothing beside it but annotations is the
		// schema it names.
		for k := range s {
			if k != "$ref" && !annotations[k] {
				return fastValue{}, false
			}
		}
		name, isStr := ref.(string)
		if !isStr || c.resolve == nil || c.resolve(name) == nil {
			return fastValue{}, false
		}
		return c.value(c.resolve(name), t, depth+1)
	}
	if t.Kind() == reflect.Pointer {
		// A pointer to a struct: encoding/json allocates it, and null
		// (which leaves it nil) is left to the general path.
		if DecodesItself(t) || t.Elem().Kind() != reflect.Struct {
			return fastValue{}, false
		}
		v, ok := c.value(schema, t.Elem(), depth+1)
		if !ok || v.kind != fkStruct {
			return fastValue{}, false
		}
		v.kind, v.elemType = fkPtr, t.Elem()
		return v, true
	}
	v := fastValue{minLen: -1, maxLen: -1}
	typ, _ := s["type"].(string)
	// The keywords this type admits; any other one makes the schema slow.
	var allowed map[string]bool
	switch typ {
	case "string":
		allowed = map[string]bool{"type": true, "minLength": true, "maxLength": true, "pattern": true, "enum": true, "const": true, "format": true}
	case "integer", "number":
		allowed = map[string]bool{"type": true, "minimum": true}
	case "boolean":
		allowed = map[string]bool{"type": true}
	case "object":
		allowed = map[string]bool{"type": true, "properties": true, "required": true, "additionalProperties": true}
	case "array":
		allowed = map[string]bool{"type": true, "items": true}
	case "":
		// No type and nothing else: any value, which only a RawMessage
		// keeps as it is (a trace step's output).
		allowed = map[string]bool{}
		if t != rawType {
			return v, false
		}
	default:
		return v, false // a list of types
	}
	for k := range s {
		if !allowed[k] && !annotations[k] {
			return v, false
		}
	}
	switch typ {
	case "":
		v.kind = fkRawAny
		return v, true
	case "string":
		return compileString(s, t, v)
	case "integer", "number":
		return compileNumber(s, t, typ == "integer", v)
	case "boolean":
		v.kind = fkBool
		return v, t.Kind() == reflect.Bool && !DecodesItself(t)
	case "object":
		_, hasProps := s["properties"]
		_, hasReq := s["required"]
		extra, hasExtra := s["additionalProperties"]
		switch {
		case t == rawType:
			v.kind = fkRaw
			return v, !hasProps && !hasReq && !hasExtra
		case t.Kind() == reflect.Map:
			return c.stringMap(extra, t, v, hasProps || hasReq || !hasExtra, depth)
		case hasExtra:
			return v, false // additional properties are not checked on structs
		}
		obj, ok := c.object(s, t, depth)
		v.kind, v.obj = fkStruct, obj
		return v, ok
	case "array":
		if t.Kind() != reflect.Slice || t.Elem().Kind() == reflect.Uint8 || DecodesItself(t) {
			return v, false
		}
		items, ok := s["items"]
		if !ok {
			return v, false
		}
		elem, ok := c.value(items, t.Elem(), depth+1)
		v.kind, v.elem, v.elemType, v.sliceTyp = fkSlice, &elem, t.Elem(), t
		return v, ok
	}
	return v, false
}

func compileString(s map[string]any, t reflect.Type, v fastValue) (fastValue, bool) {
	switch {
	case t == timeType:
		v.kind = fkTime
	case t.Kind() == reflect.String && !DecodesItself(t):
		v.kind = fkString
	default:
		return v, false
	}
	var ok bool
	if n, has := s["minLength"]; has {
		if v.minLen, ok = schemaInt(n); !ok {
			return v, false
		}
	}
	if n, has := s["maxLength"]; has {
		if v.maxLen, ok = schemaInt(n); !ok {
			return v, false
		}
	}
	if p, has := s["pattern"]; has {
		ps, isStr := p.(string)
		re, err := regexp.Compile(ps)
		if !isStr || err != nil {
			return v, false
		}
		v.pattern = re
	}
	if e, has := s["enum"]; has {
		list, isList := e.([]any)
		if !isList || len(list) == 0 {
			return v, false
		}
		for _, w := range list {
			ws, isStr := w.(string)
			if !isStr {
				return v, false
			}
			v.enum = append(v.enum, ws)
		}
	}
	if c, has := s["const"]; has {
		cs, isStr := c.(string)
		if !isStr || v.enum != nil {
			return v, false
		}
		v.enum = []string{cs}
	}
	if f, has := s["format"]; has {
		if f != "date-time" {
			return v, false
		}
		v.dateTime = true
	}
	return v, true
}

func compileNumber(s map[string]any, t reflect.Type, integer bool, v fastValue) (fastValue, bool) {
	if DecodesItself(t) {
		return v, false
	}
	v.integerOnly = integer
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.kind = fkInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.kind = fkUint
	case reflect.Float32, reflect.Float64:
		v.kind = fkFloat
	default:
		return v, false
	}
	if v.kind != fkFloat && !integer {
		return v, false // a number schema on an integer field
	}
	v.bits = t.Bits()
	if m, has := s["minimum"]; has {
		n, ok := schemaInt(m)
		if !ok || v.kind == fkFloat && n != 0 {
			return v, false
		}
		v.hasMin, v.min = true, int64(n)
	}
	return v, true
}

// stringMap compiles an object of strings (additionalProperties a string
// schema, no properties) into a map[string]string; other maps, and other
// object schemas on a map, are for the general path.
func (c fastCompiler) stringMap(extra any, t reflect.Type, v fastValue, other bool, depth int) (fastValue, bool) {
	if other || t.Key().Kind() != reflect.String || t.Key() != reflect.TypeFor[string]() || DecodesItself(t) {
		return v, false
	}
	elem, ok := c.value(extra, t.Elem(), depth+1)
	if !ok || elem.kind != fkString {
		return v, false
	}
	v.kind, v.elem, v.elemType, v.sliceTyp = fkStringMap, &elem, t.Elem(), t
	return v, true
}

func (c fastCompiler) object(s map[string]any, t reflect.Type, depth int) (*fastObject, bool) {
	if t.Kind() != reflect.Struct || DecodesItself(t) {
		return nil, false
	}
	props, _ := s["properties"].(map[string]any)
	if len(props) > 64 {
		return nil, false
	}
	obj := &fastObject{props: make(map[string]*fastProp, len(props))}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false
		}
		name, ok := JSONName(sf)
		if !ok {
			continue // unexported or json:"-": encoding/json ignores it too
		}
		if _, opts, _ := strings.Cut(sf.Tag.Get("json"), ","); strings.Contains(opts, "string") {
			return nil, false
		}
		sub, ok := props[name]
		if !ok {
			return nil, false // a field the schema does not check
		}
		val, ok := c.value(sub, sf.Type, depth+1)
		if !ok {
			return nil, false
		}
		obj.props[name] = &fastProp{bit: 1 << len(obj.names), field: i, val: val}
		obj.names = append(obj.names, name)
	}
	if len(obj.props) != len(props) {
		return nil, false // a property with no field
	}
	if r, has := s["required"]; has {
		list, ok := r.([]any)
		if !ok {
			return nil, false
		}
		for _, n := range list {
			name, _ := n.(string)
			p, ok := obj.props[name]
			if !ok {
				return nil, false
			}
			obj.required |= p.bit
		}
	}
	return obj, true
}

// schemaInt reads a non-negative integer keyword value.
func schemaInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	return int(i), err == nil && i >= 0
}

// fastMaxDepth bounds the nesting the fast path follows; deeper bodies go
// the general way.
const fastMaxDepth = 64

// fastDecode reads data into the struct v (addressable, zero) by obj, and
// reports whether it could. On false v holds garbage and the general path
// must decide.
func fastDecode(obj *fastObject, data []byte, v reflect.Value) bool {
	p := fastParser{data: data}
	p.ws()
	if !p.object(obj, v, 0) {
		return false
	}
	p.ws()
	return p.i == len(p.data)
}

// fastParser reads one body. Every method returns false to give up.
type fastParser struct {
	data   []byte
	i      int
	buf    []byte // for strings with escapes
	spaced bool   // white space was skipped: the body is not compact
}

func (p *fastParser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
			p.spaced = true
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, consuming
// it if so.
func (p *fastParser) next(c byte) bool {
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) object(obj *fastObject, v reflect.Value, depth int) bool {
	if !p.next('{') {
		return false
	}
	var seen uint64
	if !p.next('}') {
		for {
			p.ws()
			key, ok := p.key()
			if !ok || !p.next(':') {
				return false
			}
			p.ws()
			if prop, known := obj.props[string(key)]; known {
				if seen&prop.bit != 0 {
					return false // a duplicate: the two paths would read it differently
				}
				seen |= prop.bit
				if !p.value(&prop.val, v.Field(prop.field), depth+1) {
					return false
				}
			} else {
				for _, name := range obj.names {
					if strings.EqualFold(string(key), name) {
						return false // a case twin: the general path refuses it
					}
				}
				if !p.skip(depth + 1) {
					return false
				}
			}
			if p.next(',') {
				continue
			}
			if p.next('}') {
				break
			}
			return false
		}
	}
	return seen&obj.required == obj.required
}

// key reads an object key: printable ASCII without escapes, or give up.
func (p *fastParser) key() ([]byte, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.data); j++ {
		switch c := p.data[j]; {
		case c == '"':
			p.i = j + 1
			return p.data[start:j], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

func (p *fastParser) value(fv *fastValue, f reflect.Value, depth int) bool {
	if depth > fastMaxDepth || p.i >= len(p.data) {
		return false
	}
	switch fv.kind {
	case fkString:
		s, ok := p.str()
		if !ok || !fv.checkString(s) {
			return false
		}
		f.SetString(s)
	case fkTime:
		start := p.i
		s, ok := p.str()
		if !ok || !fv.checkString(s) {
			return false
		}
		// As encoding/json does: the time decodes its own literal.
		if err := f.Addr().Interface().(*time.Time).UnmarshalJSON(p.data[start:p.i]); err != nil {
			return false
		}
	case fkInt, fkUint, fkFloat:
		return p.number(fv, f)
	case fkBool:
		switch {
		case bytes.HasPrefix(p.data[p.i:], []byte("true")):
			p.i += 4
			f.SetBool(true)
		case bytes.HasPrefix(p.data[p.i:], []byte("false")):
			p.i += 5
		default:
			return false
		}
	case fkRaw:
		start := p.i
		if p.data[p.i] != '{' || !p.skip(depth) {
			return false
		}
		f.SetBytes(bytes.Clone(p.data[start:p.i]))
	case fkRawAny:
		// null is left to the general path: encoding/json hands it to
		// RawMessage as the four bytes, which is easy to get wrong.
		start := p.i
		if p.data[p.i] == 'n' || !p.skip(depth) {
			return false
		}
		f.SetBytes(bytes.Clone(p.data[start:p.i]))
	case fkStruct:
		return p.object(fv.obj, f, depth)
	case fkPtr:
		if p.data[p.i] != '{' {
			return false // null among them
		}
		nv := reflect.New(fv.elemType)
		if !p.object(fv.obj, nv.Elem(), depth) {
			return false
		}
		f.Set(nv)
	case fkStringMap:
		return p.stringMap(fv, f, depth)
	case fkSlice:
		return p.array(fv, f, depth)
	default:
		return false
	}
	return true
}

// stringMap reads an object of strings into a new map (encoding/json makes
// one even for {}). A repeated key is left to the general path, where the
// last one wins.
func (p *fastParser) stringMap(fv *fastValue, f reflect.Value, depth int) bool {
	if depth > fastMaxDepth || !p.next('{') {
		return false
	}
	m := reflect.MakeMap(fv.sliceTyp)
	if !p.next('}') {
		for {
			p.ws()
			k, ok := p.str()
			if !ok || !p.next(':') {
				return false
			}
			key := reflect.ValueOf(k)
			if m.MapIndex(key).IsValid() {
				return false
			}
			p.ws()
			val := reflect.New(fv.elemType).Elem()
			if !p.value(fv.elem, val, depth+1) {
				return false
			}
			m.SetMapIndex(key, val)
			if p.next(',') {
				continue
			}
			if p.next('}') {
				break
			}
			return false
		}
	}
	f.Set(m)
	return true
}

func (p *fastParser) array(fv *fastValue, f reflect.Value, depth int) bool {
	if !p.next('[') {
		return false
	}
	// As encoding/json does, an empty array is an empty slice, not nil.
	s := reflect.MakeSlice(fv.sliceTyp, 0, 0)
	if !p.next(']') {
		zero := reflect.Zero(fv.elemType)
		for n := 0; ; n++ {
			s = reflect.Append(s, zero)
			p.ws()
			if !p.value(fv.elem, s.Index(n), depth+1) {
				return false
			}
			if p.next(',') {
				continue
			}
			if p.next(']') {
				break
			}
			return false
		}
	}
	f.Set(s)
	return true
}

// checkString applies the string keywords.
func (fv *fastValue) checkString(s string) bool {
	// A rune takes one to four bytes (s is valid UTF-8), so the length in
	// bytes mostly decides without counting.
	if fv.minLen > 0 && len(s) < 4*fv.minLen && utf8.RuneCountInString(s) < fv.minLen {
		return false
	}
	if fv.maxLen >= 0 && len(s) > fv.maxLen && utf8.RuneCountInString(s) > fv.maxLen {
		return false
	}
	if fv.enum != nil {
		found := false
		for _, w := range fv.enum {
			if s == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if fv.pattern != nil && !fv.pattern.MatchString(s) {
		return false
	}
	if fv.dateTime && ValidateDateTime(s) != nil {
		return false
	}
	return true
}

// number reads a number into an integer or float field. Integer fields
// take only plain integers (no fraction, no exponent) that fit; floats any
// number, but under a minimum of 0 none with a sign.
func (p *fastParser) number(fv *fastValue, f reflect.Value) bool {
	start := p.i
	integer, ok := p.skipNumber()
	if !ok {
		return false
	}
	tok := p.data[start:p.i]
	if fv.integerOnly && !integer {
		return false
	}
	switch fv.kind {
	case fkInt, fkUint:
		neg := tok[0] == '-'
		digits := tok
		if neg {
			digits = tok[1:]
		}
		if len(digits) > 18 || neg && fv.kind == fkUint {
			return false // might overflow: let strconv and the general path judge
		}
		var n int64
		for _, c := range digits {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		if fv.hasMin && n < fv.min {
			return false
		}
		if fv.kind == fkInt {
			if f.OverflowInt(n) {
				return false
			}
			f.SetInt(n)
		} else {
			if f.OverflowUint(uint64(n)) {
				return false
			}
			f.SetUint(uint64(n))
		}
	case fkFloat:
		if fv.hasMin && tok[0] == '-' {
			return false
		}
		x, err := strconv.ParseFloat(string(tok), fv.bits)
		if err != nil || f.OverflowFloat(x) {
			return false
		}
		f.SetFloat(x)
	}
	return true
}

// skipNumber moves past a JSON number and reports whether it is a plain
// integer.
func (p *fastParser) skipNumber() (integer, ok bool) {
	d, i := p.data, p.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return false, false
	}
	integer = true
	if i < len(d) && d[i] == '.' {
		integer = false
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return false, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		integer = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return false, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	p.i = i
	return integer, true
}

// str reads a JSON string (see jsonfast.ReadString).
func (p *fastParser) str() (string, bool) {
	s, next, buf, ok := jsonfast.ReadString(p.data, p.i, p.buf)
	p.buf = buf
	if ok {
		p.i = next
	}
	return s, ok
}

// skip moves past any JSON value, checking its syntax, without keeping it.
func (p *fastParser) skip(depth int) bool {
	if depth > fastMaxDepth {
		return false
	}
	p.ws()
	if p.i >= len(p.data) {
		return false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		if p.next('}') {
			return true
		}
		for {
			p.ws()
			if !p.skipString() || !p.next(':') || !p.skip(depth+1) {
				return false
			}
			if p.next(',') {
				continue
			}
			return p.next('}')
		}
	case c == '[':
		p.i++
		if p.next(']') {
			return true
		}
		for {
			if !p.skip(depth + 1) {
				return false
			}
			if p.next(',') {
				continue
			}
			return p.next(']')
		}
	case c == '"':
		return p.skipString()
	case c == '-' || isDigit(c):
		_, ok := p.skipNumber()
		return ok
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(p.data[p.i:], []byte(lit)) {
			p.i += len(lit)
			return true
		}
	}
	return false
}

// skipString moves past a JSON string, checking its escapes and UTF-8.
func (p *fastParser) skipString() bool {
	d := p.data
	if p.i >= len(d) || d[p.i] != '"' {
		return false
	}
	j := p.i + 1
	for j < len(d) {
		j = jsonfast.PlainRun(d, j)
		if j >= len(d) {
			return false
		}
		switch c := d[j]; {
		case c == '"':
			p.i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(d) {
				return false
			}
			switch d[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := jsonfast.Hex4(d[j+2:]); !ok {
					return false
				}
				j += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			r, size := utf8.DecodeRune(d[j:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			j += size
		}
	}
	return false
}
