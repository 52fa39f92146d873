package logging

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what is written to tty is read from
// master, as a terminal emulator would.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

func TestAutoWritesConsoleLinesToATerminal(t *testing.T) {
	t.Parallel()
	master, tty := openPTY(t)
	if !Terminal(tty) {
		t.Fatal("a pseudo-terminal is not counted as a terminal")
	}
	log, err := New(tty, "auto", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("component", "gateway").Msg("twin is up")
	line, err := bufio.NewReader(master).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if json.Valid([]byte(strings.TrimSpace(line))) || !strings.Contains(line, "twin is up") || !strings.Contains(line, "INF") {
		t.Errorf("on a terminal auto wrote %q, want a console line", line)
	}

	// --log-format json forces JSON even there.
	log, _ = New(tty, "json", "info")
	log.Info().Msg("up")
	line, err = bufio.NewReader(master).ReadString('\n')
	if err != nil || !json.Valid([]byte(strings.TrimSpace(line))) {
		t.Errorf("json on a terminal wrote %q (%v)", line, err)
	}
}
