package embedded

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

func checkExtra(t testing.TB, extra map[string]any) {
	t.Helper()
	want, wantErr := json.Marshal(extra)
	got, err := marshalExtra(extra)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("marshalExtra(%#v) = %s, %v; json.Marshal: %s, %v", extra, got, err, want, wantErr)
	}
}

func TestMarshalExtraIsJSONMarshal(t *testing.T) {
	t.Parallel()
	strs := []string{"", "plain", "a\"b\\c", "<&>", "\n\t\r\b\f\x00\x1f\x7f", "é 日本 \U0001F600", "\u2028\u2029", "bad \xff"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 7, 256, 0.5, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.5e300, -2.5e-300,
		123456789012345678, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3}
	for i, s := range strs {
		for j, f := range floats {
			checkExtra(t, map[string]any{"revision": f, "tokens": float64(i * j), s: s, "flag": i%2 == 0, "none": nil,
				"chunking_strategy": "text", "dense_model": "hashed-ngrams/v1/dim1024"})
		}
	}
	checkExtra(t, map[string]any{})
	checkExtra(t, map[string]any{"nested": map[string]any{"a": 1}, "n": 3})
	checkExtra(t, map[string]any{"inf": math.Inf(1)})
	checkExtra(t, map[string]any{"nan": math.NaN()})
}

func FuzzMarshalExtra(f *testing.F) {
	f.Add("key", "value", 1.5, true)
	f.Fuzz(func(t *testing.T, k, s string, x float64, b bool) {
		checkExtra(t, map[string]any{k: s, k + "x": x, k + "y": b, "z": nil})
	})
}
