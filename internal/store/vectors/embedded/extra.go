package embedded

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/twin-llm/twin/internal/jsonfast"
)

// marshalExtra is json.Marshal(extra), byte for byte, for the maps of
// strings, numbers and booleans that payloads carry: every point of an
// upsert has one, and json.Marshal's reflection was most of preparing a
// point after its vectors. Other values go through json.Marshal.
func marshalExtra(extra map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(extra))
	size := 2
	for k, v := range extra {
		switch v := v.(type) {
		case string:
			size += len(v) + 2
		case float64, bool, nil:
		default:
			return json.Marshal(extra)
		}
		keys = append(keys, k)
		size += len(k) + 32
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonfast.AppendString(b, k)
		b = append(b, ':')
		switch v := extra[k].(type) {
		case string:
			b = jsonfast.AppendString(b, v)
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return json.Marshal(extra) // for its error
			}
			b = jsonfast.AppendFloat(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case nil:
			b = append(b, "null"...)
		}
	}
	return append(b, '}'), nil
}
