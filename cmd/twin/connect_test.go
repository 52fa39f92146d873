package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// twinAt runs a client subcommand with only args (no --nats, no --data)
// and returns its exit code, stdout and stderr.
func twinAt(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

func TestClientWithOnlyServerFindsNATSOnAnotherPort(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir()) // NATS on a free port, never 4222
	if strings.HasSuffix(p.nats, ":4222") {
		t.Fatalf("NATS at %s: the test needs a port other than the default", p.nats)
	}
	code, out, errOut := twinAt("import", "../../testdata/simonw-til/til-sample.jsonl", "--author", "Simon Willison",
		"--kind", "post", "--wait", "--server", p.http)
	if code != 0 {
		t.Fatalf("twin import --wait --server %s = %d\n%s\n%s", p.http, code, out, errOut)
	}
	// --wait returned: the posts went through this twin's NATS and are
	// searchable.
	code, out, errOut = twinAt("search", "Textract", "--server", p.http)
	if code != 0 || !strings.Contains(out, "https://til.simonwillison.net/aws/ocr-pdf-textract") {
		t.Errorf("twin search after the import = %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := twinAt("dlq", "ls", "--server", p.http); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Errorf("twin dlq ls --server = %d %q %q", code, out, errOut)
	}
	// --nats still wins: a wrong one fails, naming it.
	code, _, errOut = twinAt("dlq", "ls", "--server", p.http, "--nats", "nats://127.0.0.1:1", "--data", p.dir)
	if code == 0 || !strings.Contains(errOut, "nats://127.0.0.1:1") {
		t.Errorf("twin dlq ls --nats 127.0.0.1:1 = %d %q, want a failure naming that server", code, errOut)
	}
}

func TestClientOfATwinWithoutANATSListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir, "--nats-listen", "off")
	code, _, errOut := twinAt("dlq", "ls", "--server", p.http)
	if code == 0 || !strings.Contains(errOut, "--nats-listen off") {
		t.Errorf("twin dlq ls against --nats-listen off = %d %q, want the reason", code, errOut)
	}
}

func TestNATSAdvertiseIsChecked(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, want string }{
		{"4222", "want a URL such as"},
		{"http://host:4222", "want a URL such as"},
		{"nats://user:pass@host:4222", "carries credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := twinAt("up", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "off", "--nats-advertise", tt.value)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("twin up --nats-advertise %s = %d %q, want 1 and %q", tt.value, code, errOut, tt.want)
			}
		})
	}
}
