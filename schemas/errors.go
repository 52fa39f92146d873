package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// validationError turns the validator's tree of errors into one
// ValidationError naming a single field. Of all the leaves of the tree it
// picks the one with the smallest field path, so that the same body always
// yields the same error (the validator visits properties in map order).
func validationError(name string, err error) error {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &ValidationError{Schema: name, Message: err.Error()}
	}
	var best *jsonschema.ValidationError
	var bestField string
	for _, leaf := range leaves(verr, nil) {
		if field := fieldPath(leaf); best == nil || field < bestField {
			best, bestField = leaf, field
		}
	}
	return &ValidationError{Schema: name, Field: bestField, Message: describe(best.ErrorKind)}
}

// leaves appends the errors of the tree rooted at e that have no causes: the
// failed keywords themselves, below the groups that only collect them.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// fieldPath is the leaf's instance location as JSON Pointer tokens joined by
// '/'. A missing property is not in the instance, so the validator reports
// the object holding it; the path names the property itself instead, since
// that is what the producer has to add.
func fieldPath(e *jsonschema.ValidationError) string {
	tokens := e.InstanceLocation
	if req, ok := e.ErrorKind.(*kind.Required); ok && len(req.Missing) > 0 {
		tokens = append(tokens[:len(tokens):len(tokens)], req.Missing[0])
	}
	var b strings.Builder
	for i, tok := range tokens {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(escapeToken(tok))
	}
	return b.String()
}

// describe says what is wrong with a value, in the words of the schema's
// keywords.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Required:
		return "missing required property"
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = literal(w)
		}
		return "must be one of [" + strings.Join(want, " ") + "]"
	case *kind.Const:
		return "must be " + literal(k.Want)
	case *kind.Format:
		return fmt.Sprintf("must be a valid %s: %v", k.Want, k.Err)
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %s", k.Want)
	case *kind.Minimum:
		return "must be at least " + k.Want.RatString()
	case *kind.ContentEncoding:
		return fmt.Sprintf("must be %s-encoded", k.Want)
	}
	return k.LocalizedString(message.NewPrinter(language.English))
}

// literal writes a value from a schema as it would appear in JSON.
func literal(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// unmarshalError reports a value the schema admits but encoding/json cannot
// store in the Go type.
func unmarshalError(name string, err error) error {
	var terr *json.UnmarshalTypeError
	if errors.As(err, &terr) {
		// Field is dotted and omits array indexes ("chunks.index"); the
		// path is still the best pointer there is.
		return &ValidationError{Schema: name, Field: strings.ReplaceAll(terr.Field, ".", "/"),
			Message: fmt.Sprintf("cannot hold %s in a Go %s", terr.Value, terr.Type)}
	}
	return &ValidationError{Schema: name, Message: err.Error()}
}
