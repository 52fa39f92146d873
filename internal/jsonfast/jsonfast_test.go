package jsonfast

import (
	"encoding/json"
	"math"
	"strings"
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

func TestReadStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`""`, `"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u2028 é 日本"`,
		`"pair \ud83d\ude42"`, `"a very long plain string that is longer than eight bytes"x`} {
		var want string
		if err := json.Unmarshal([]byte(in[:strings.LastIndexByte(in, '"')+1]), &want); err != nil {
			t.Fatal(err)
		}
		got, next, _, ok := ReadString([]byte(in), 0, nil)
		if !ok || got != want || next != strings.LastIndexByte(in, '"')+1 {
			t.Errorf("ReadString(%s) = %q, %d, %v; want %q", in, got, next, ok, want)
		}
	}
	// What encoding/json would replace or refuse, ReadString leaves to it.
	for _, in := range []string{`"lone \ud83d"`, "\"bad \xff\"", `"unterminated`, "\"ctl \x01\"", `"bad \x"`, `x`} {
		if _, _, _, ok := ReadString([]byte(in), 0, nil); ok {
			t.Errorf("ReadString(%q) accepted", in)
		}
	}
}

func FuzzReadString(f *testing.F) {
	f.Add([]byte(`"a\u00e9\n\ud83d\ude42"`))
	f.Fuzz(func(t *testing.T, d []byte) {
		got, next, _, ok := ReadString(d, 0, nil)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(d[:next], &want); err != nil || want != got {
			t.Fatalf("ReadString(%q) = %q, json.Unmarshal = %q (%v)", d, got, want, err)
		}
	})
}

// BenchmarkReadStringEscaped reads a 4 KB text of paragraphs, escaped as
// a document's content is: a \n every few hundred bytes.
func BenchmarkReadStringEscaped(b *testing.B) {
	text := strings.Repeat(strings.Repeat("a plain sentence of prose, ", 12)+"\n\n", 12)
	d, err := json.Marshal(text)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(d)))
	var buf []byte
	for b.Loop() {
		var ok bool
		if _, _, buf, ok = ReadString(d, 0, buf); !ok {
			b.Fatal("gave up")
		}
	}
}
