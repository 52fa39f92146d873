package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryStopsCleanlyOnSIGTERM builds the real binary and stops it the
// way an init system or Kubernetes does.
func TestBinaryStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "twin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(bin, "up", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "off", "--log-format", "console")
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		url := waitForHTTP(t, stdout)
		if resp, err := http.Get(url + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz: %v %v", resp, err)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: exit %v\n%s", sig, err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%s: still running after 30s\n%s", sig, stderr.String())
		}
		if !strings.Contains(stderr.String(), "stopped") {
			t.Errorf("%s: no clean stop in the log:\n%s", sig, stderr.String())
		}
	}
}

func waitForHTTP(t *testing.T, stdout io.Reader) string {
	t.Helper()
	re := regexp.MustCompile(`http\s+(http://\S+)`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return m[1]
		}
	}
	t.Fatal("the binary printed no http address")
	return ""
}
