package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
)

func TestMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain text", `quote " and \ backslash`, "<a href='x'>&</a>", "tab\tnew\nline\r\x00\x1f",
		"é ü 日本 🙂", "bad \xff utf-8", "line\u2028sep\u2029", "long run of safe bytes before a < sign"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -2.5, 1e-7, 123456789, 1e21, 1e-300, math.MaxFloat64, 0.1} {
		want, _ := json.Marshal(f)
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a<b>&\"\\\n\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
