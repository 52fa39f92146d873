package markdown

import (
	"strings"
	"testing"
)

func TestFence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{"```", "```"},
		{"```python", "```"},
		{"~~~~ yaml", "~~~~"},
		{"``", ""},
		{"```x```", ""}, // a code span
		{"~~~x~", "~~~"},
		{"text ```", ""},
		{"", ""},
	} {
		if got := Fence(tc.line); got != tc.want {
			t.Errorf("Fence(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestClosesFence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line, fence string
		want        bool
	}{
		{"```", "```", true},
		{"`````", "```", true},
		{"``", "```", false},
		{"```go", "```", false},
		{"~~~", "```", false},
		{"```", "", false},
	} {
		if got := ClosesFence(tc.line, tc.fence); got != tc.want {
			t.Errorf("ClosesFence(%q, %q) = %v, want %v", tc.line, tc.fence, got, tc.want)
		}
	}
}

func TestLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s         string
		i         int
		text, url string
		end       int
	}{
		{"[a](http://x)", 0, "a", "http://x", 13},
		{"see [the [docs]](u) now", 4, "the [docs]", "u", 19},
		{"[a] (u)", 0, "", "", 0},
		{"[a](u v)", 0, "", "", 0},
		{"[a](u", 0, "", "", 0},
		{"[a", 0, "", "", 0},
	} {
		text, url, end := Link(tc.s, tc.i)
		if text != tc.text || url != tc.url || end != tc.end {
			t.Errorf("Link(%q, %d) = %q, %q, %d; want %q, %q, %d", tc.s, tc.i, text, url, end, tc.text, tc.url, tc.end)
		}
	}
}

func FuzzLink(f *testing.F) {
	for _, s := range []string{"[a](b)", "x [a [b]](c d) [e](f)", "```go", "[[[]]](", "~~~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fence := Fence(strings.TrimSpace(s)); fence != "" && !ClosesFence(fence, fence) {
			t.Errorf("the fence %q of %q does not close itself", fence, s)
		}
		for i := range len(s) {
			if s[i] != '[' {
				continue
			}
			text, url, end := Link(s, i)
			if end == 0 {
				continue
			}
			if end > len(s) || s[i:end] != "["+text+"]("+url+")" {
				t.Fatalf("Link(%q, %d) = %q, %q, %d: not the span it ends", s, i, text, url, end)
			}
		}
	})
}
