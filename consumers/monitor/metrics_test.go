package monitor

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLabelValuesAreValidShortAndBounded(t *testing.T) {
	t.Parallel()
	l := newLabelValues()
	long := strings.Repeat("é", maxLabelLen) // two bytes a rune
	tests := []struct {
		name, in, want string
	}{
		{"plain", "generate", "generate"},
		{"trimmed", "  rerank ", "rerank"},
		{"empty", "", labelUnknown},
		{"blank", "   ", labelUnknown},
		{"invalid UTF-8", "gpt\xff4", "gpt\uFFFD4"},
		{"long", long, long[:maxLabelLen]},
		{"long, cut back to a rune start", "a" + long, ("a" + long)[:maxLabelLen-1]},
	}
	for _, tt := range tests {
		got := l.value(tt.in)
		if got != tt.want || !utf8.ValidString(got) || len(got) > maxLabelLen {
			t.Errorf("%s: value(%q) = %q, want %q (valid UTF-8, at most %d bytes)", tt.name, tt.in, got, tt.want, maxLabelLen)
		}
	}
	for i := 0; len(l.seen) < maxLabelValues; i++ {
		l.value(fmt.Sprint("model-", i))
	}
	if got := l.value("one-too-many"); got != labelOther {
		t.Errorf("a value past %d distinct ones = %q, want %q", maxLabelValues, got, labelOther)
	}
	if got := l.value("generate"); got != "generate" {
		t.Errorf("a value seen before the bound = %q, want it kept", got)
	}
}
