package codec

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"
)

// The rules both paths of schemas.Decode share with this one: how
// encoding/json names a field, which types decode themselves, and what a
// date-time is.

// JSONName returns the name encoding/json uses for a field, and false for a
// field it ignores. Embedded structs are not flattened: message types do
// not use them.
func JSONName(sf reflect.StructField) (string, bool) {
	if !sf.IsExported() {
		return "", false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	return name, true
}

// DecodesItself reports whether encoding/json hands values of t to their
// own UnmarshalJSON or UnmarshalText.
func DecodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// ValidateDateTime accepts an RFC 3339 date-time exactly when encoding/json
// can decode it into a time.Time and encode it again: upper-case 'T' and 'Z'
// only, two-digit fields, seconds below 60 and a zone offset under 24 hours.
func ValidateDateTime(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil // only strings have a format; the type is checked elsewhere
	}
	if !dateTimeShape(s) {
		return errors.New("not of the form 2006-01-02T15:04:05.999999999Z07:00")
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return errors.New("a date or time field is out of range")
	}
	return nil
}

// dateTimeShape reports whether s reads yyyy-mm-ddThh:mm:ss, an optional
// fraction, then Z or ±hh:mm with an offset under 24 hours.
func dateTimeShape(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) <= len(shape) {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && !isDigit(s[i]) || shape[i] != 'd' && shape[i] != s[i] {
			return false
		}
	}
	rest := s[len(shape):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]) &&
		rest[1:3] < "24" && rest[4:6] < "60"
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
