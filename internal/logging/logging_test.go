package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("consumer", "crawler").Msg("started")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["message"] != "started" || line["consumer"] != "crawler" || line["level"] != "info" || line["time"] == nil {
		t.Errorf("line = %v", line)
	}

	buf.Reset()
	log, _ = New(&buf, "console", "debug")
	log.Debug().Msg("shown")
	if !strings.Contains(buf.String(), "DBG shown") {
		t.Errorf("console line = %q", buf.String())
	}
	for _, bad := range [][2]string{{"xml", "info"}, {"json", "loud"}, {"json", ""}} {
		if _, err := New(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("New(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestAutoWritesJSONWhereNoPersonReads: a pipe, a file or a buffer gets
// JSON lines from "auto"; a terminal is checked by hand (tests have none).
func TestAutoWritesJSONWhereNoPersonReads(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]interface {
		Write([]byte) (int, error)
	}{"file": f, "pipe": w, "buffer": &bytes.Buffer{}} {
		if Terminal(out) {
			t.Errorf("%s counted as a terminal", name)
		}
	}
	var buf bytes.Buffer
	for _, format := range []string{"auto", ""} {
		buf.Reset()
		log, err := New(&buf, format, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info().Msg("up")
		if !json.Valid(buf.Bytes()) {
			t.Errorf("format %q to a buffer wrote %q, want JSON", format, buf.String())
		}
	}
}
