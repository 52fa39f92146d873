package logging

import (
	"bytes"
	"encoding/json"
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
