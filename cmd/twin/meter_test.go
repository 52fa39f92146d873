package main

import (
	"strings"
	"testing"
	"time"
)

func TestMeterWritesPlainLinesWhenNotATerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		total  int64
		bytes  bool
		n      int64
		detail string
		want   string
	}{
		{"bytes of a known size", 4 << 20, true, 1 << 20, "5120 documents", "importing 5120 documents: 1.0 MiB of 4.0 MiB (25%), 102.4 KiB/s, about 30s left"},
		{"items", 8, false, 2, "", "importing: 2 of 8 (25%), 0.2/s, about 30s left"},
		{"an unknown total", 0, false, 30, "", "importing: 30, 3.0/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			m := newMeter(&out, "importing", tt.total, tt.bytes)
			if m.bar != nil {
				t.Fatal("a meter on a buffer draws a bar")
			}
			m.start = time.Now().Add(-10 * time.Second)
			m.Set(tt.n, tt.detail) // too soon after the start: no line yet
			if out.Len() != 0 {
				t.Fatalf("a line before %s: %q", plainEvery, out.String())
			}
			m.last = time.Now().Add(-plainEvery)
			m.Set(tt.n, tt.detail)
			if got := strings.TrimSuffix(out.String(), "\n"); !strings.HasPrefix(got, tt.want) {
				t.Errorf("line %q, want %q", got, tt.want)
			}
			m.Done()
			m.Done()
			out.Reset()
			m.last = time.Now().Add(-plainEvery)
			m.Set(tt.n+1, tt.detail)
			if out.Len() != 0 {
				t.Errorf("a line after Done: %q", out.String())
			}
		})
	}
}
