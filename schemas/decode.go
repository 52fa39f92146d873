package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/twin-llm/twin/schemas/internal/codec"
)

// ErrInvalid matches every error Decode returns for a body that is not a
// valid message: not JSON, not an object, a missing field, a wrong type, a
// value outside its enum or format. Such a body will never be valid, so a
// consumer terminates it and dead-letters it (ReasonInvalid) instead of
// retrying it.
var ErrInvalid = errors.New("schemas: invalid message")

// ErrUnknownSchema is returned when a value's Schema method names a schema
// this package does not have: a programming error, not a bad body.
var ErrUnknownSchema = errors.New("schemas: unknown schema")

// ValidationError says why a body is not a valid message. It matches
// ErrInvalid.
type ValidationError struct {
	Schema string // the schema the body was checked against, e.g. "chat_request/v1"
	// Field is the path of the offending value, as JSON Pointer tokens
	// without the leading slash ("url", "chunks/0/text"); empty when the
	// body as a whole is wrong (not JSON, not an object).
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Schema + ": " + e.Message
	}
	return fmt.Sprintf("%s: field %q: %s", e.Schema, e.Field, e.Message)
}

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Decode checks that data is a valid body of v's schema and then unmarshals
// it into v, which must be a non-nil pointer (&schemas.ChatRequest{}).
//
// Data is validated as raw JSON before it is unmarshaled, so a missing
// required field is reported as missing rather than silently left at its
// zero value. Every problem with data yields a *ValidationError, which
// matches ErrInvalid; Decode does not panic on any input. Unknown properties
// are accepted and ignored (see the package documentation).
//
// On success v holds exactly what data says: fields data omits are zero,
// whatever v held before. A body refused by the schema leaves v untouched.
// Decode is safe for concurrent use.
func Decode(data []byte, v Message) error {
	rv := reflect.ValueOf(v)
	if v == nil || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("schemas: Decode needs a non-nil pointer, got %T", v)
	}
	name := v.Schema()
	e, err := registry.entry(name)
	if err != nil {
		return err
	}

	if e.fast != nil && rv.Type().Elem() == e.typ {
		// One pass straight into a new value; anything it cannot vouch for
		// (see package codec) falls through to the general path below.
		nv := reflect.New(e.typ).Elem()
		if e.fast.Decode(data, nv) {
			rv.Elem().Set(nv)
			return nil
		}
	}

	return decodeGeneral(data, v, rv, e)
}

// decodeGeneral is Decode's general path: the body is parsed for the JSON
// Schema library and validated, then unmarshaled into v.
func decodeGeneral(data []byte, v Message, rv reflect.Value, e *registryEntry) error {
	name := v.Schema()
	if len(bytes.TrimSpace(data)) == 0 {
		return &ValidationError{Schema: name, Message: "empty body"}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{Schema: name, Message: "not JSON: " + err.Error()}
	}
	if err := e.schema.Validate(doc); err != nil {
		return validationError(name, err)
	}

	fields := e.fields
	if t := rv.Type().Elem(); t != e.typ {
		fields = jsonFields(t) // a type of the caller's own: rare, not cached
	}
	if field, known := fields.caseMismatch(doc); field != "" {
		return &ValidationError{Schema: name, Field: field,
			Message: fmt.Sprintf("property name differs from %q only in case", known)}
	}

	// Start from the zero value, so a value reused for several messages
	// never keeps an optional field of an earlier one.
	rv.Elem().SetZero()
	if err := json.Unmarshal(data, v); err != nil {
		// The schema admits a few values Go cannot hold, such as an integer
		// beyond int64 or written as 1.0.
		return unmarshalError(name, err)
	}
	return nil
}

// Encode marshals v to a message body. It does not validate: producers build
// their values in code, and tests (which Decode what they publish) are the
// cheaper place to catch a missing field than every publish.
func Encode(v Message) ([]byte, error) {
	if v == nil {
		return nil, errors.New("schemas: Encode(nil)")
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil, fmt.Errorf("schemas: Encode(nil %T)", v)
	}
	if data, ok := codec.Encode(v); ok {
		return data, nil // json.Marshal's bytes, faster (see package codec)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s: %w", v.Schema(), err)
	}
	return data, nil
}

// SchemaFor returns the JSON Schema file of the named schema
// ("chat_request/v1"), for tools and other languages.
func SchemaFor(name string) ([]byte, bool) {
	if !slices.Contains(Names(), name) {
		return nil, false
	}
	data, err := schemaFiles.ReadFile(fileName(name))
	if err != nil {
		return nil, false
	}
	return data, true
}

// Names lists the names of all schemas, sorted.
func Names() []string {
	var names []string
	for _, m := range messages() {
		names = append(names, m.Schema())
	}
	slices.Sort(names)
	return names
}

// fileName maps "chat_request/v1" to "chat_request.v1.schema.json".
func fileName(name string) string {
	return strings.Replace(name, "/", ".", 1) + ".schema.json"
}

//go:embed *.schema.json
var schemaFiles embed.FS

// registry holds every schema, compiled on first use. After that it is only
// read, so Decode is safe for concurrent use and never touches the files
// again.
var registry schemaRegistry

type schemaRegistry struct {
	once    sync.Once
	entries map[string]*registryEntry
	err     error // why the embedded schemas did not compile; a build bug
}

type registryEntry struct {
	schema *jsonschema.Schema
	typ    reflect.Type // the message type registered for the schema
	fields *structFields
	fast   *codec.Decoder // nil: the schema always takes the general path
}

func (r *schemaRegistry) entry(name string) (*registryEntry, error) {
	r.once.Do(r.build)
	if r.err != nil {
		return nil, r.err
	}
	e, ok := r.entries[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSchema, name)
	}
	return e, nil
}

func (r *schemaRegistry) build() {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	// Override the library's date-time with the one encoding/json decodes
	// time.Time with, so that a body passes the schema exactly when its
	// times can be decoded and encoded again.
	c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: codec.ValidateDateTime})

	// Every file is added before any is compiled, so that a schema can
	// refer to another ("$ref": "document.v1.schema.json").
	sources := make(map[string]any)
	for _, m := range messages() {
		name := m.Schema()
		source, err := addResource(c, name)
		if err != nil {
			r.err = fmt.Errorf("schemas: read %s: %w", name, err)
			return
		}
		sources[fileName(name)] = source
	}
	resolve := func(ref string) any { return sources[ref] }

	entries := make(map[string]*registryEntry)
	for _, m := range messages() {
		name := m.Schema()
		sch, err := c.Compile(schemaURL(name))
		if err != nil {
			r.err = fmt.Errorf("schemas: compile %s: %w", name, err)
			return
		}
		e := &registryEntry{schema: sch, typ: reflect.TypeOf(m)}
		e.fields = jsonFields(e.typ)
		e.fast = codec.NewDecoder(sources[fileName(name)], e.typ, resolve)
		entries[name] = e
	}
	r.entries = entries
}

// schemaURL is the $id of the named schema's file, so no loader is ever
// asked to fetch anything.
func schemaURL(name string) string { return "https://twin.dev/schemas/" + fileName(name) }

// addResource adds the named schema's file to c and returns a second reading
// of it, for the fast path to compile.
func addResource(c *jsonschema.Compiler, name string) (any, error) {
	data, err := schemaFiles.ReadFile(fileName(name))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	source, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if err := c.AddResource(schemaURL(name), doc); err != nil {
		return nil, err
	}
	return source, nil
}
