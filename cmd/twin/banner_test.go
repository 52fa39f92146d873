package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestUpSaysWhatToOpenAndWhatToDoNext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	out := p.stdout.String()
	for _, want := range []string{
		"open     " + p.http + "/ in a browser",
		// A free port is not the default one: a client needs to be told.
		"clients  export TWIN_SERVER=" + p.http + "\n",
		"next     the twin is empty",
		"twin import testdata/simonw-til/til-sample.jsonl --author \"Simon Willison\" --kind post --wait",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "ready in") < strings.Index(out, "next") {
		t.Errorf("\"ready in\" is not the banner's last line:\n%s", out)
	}
	if _, err := p.twin(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison", "--wait"); err != nil {
		t.Fatal(err)
	}
	p.stop(t)

	// Not empty any more: no hint; a token-protected gateway says so.
	p = startUp(t, dir, "--auth-token", chatToken)
	if out := p.stdout.String(); strings.Contains(out, "next") || !strings.Contains(out, "TWIN_TOKEN") {
		t.Errorf("a twin with documents and auth printed:\n%s", out)
	}
}

func TestUpWithoutGatewayTellsNATSAndDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir, "--http", "off")
	line := regexp.MustCompile(`clients  export (.*)\n`).FindStringSubmatch(p.stdout.String())
	if line == nil || line[1] != "TWIN_NATS="+p.nats+" TWIN_DATA="+dir {
		t.Errorf("clients line = %q, want TWIN_NATS=%s TWIN_DATA=%s", line, p.nats, dir)
	}
}

func TestReachableURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:8080":  "http://127.0.0.1:8080",
		"0.0.0.0:8080":    "http://127.0.0.1:8080",
		"[::]:9000":       "http://[::1]:9000",
		":8080":           "http://127.0.0.1:8080",
		"twin.local:8080": "http://twin.local:8080",
	} {
		if got := reachableURL("http", addr); got != want {
			t.Errorf("reachableURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestUnknownLogFormatIsRefused(t *testing.T) {
	t.Parallel()
	code, _, errOut := twinAt("status", "--log-format", "xml")
	if code != 1 || !strings.Contains(errOut, `log format "xml": want auto, json or console`) {
		t.Errorf("twin status --log-format xml = %d %q", code, errOut)
	}
}
