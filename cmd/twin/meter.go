package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainEvery is how often a meter writes a line of progress when its
// output is not a terminal (a log file, a CI job, a test).
const plainEvery = 5 * time.Second

// meter shows how far a long command is: a bar with rate and ETA on a
// terminal, a plain line every plainEvery otherwise. Lines the command
// prints meanwhile clear the bar first, so that
// they never glue to it (see Write and lineWriter). It is safe for
// concurrent use.
type meter struct {
	mu    sync.Mutex
	out   io.Writer
	bar   *progressbar.ProgressBar // nil when out is not a terminal
	what  string
	total int64 // 0: unknown
	bytes bool  // n and total count bytes

	start, last time.Time
	n           int64
	detail      string
	done        bool
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newMeter starts a meter of what on out, counting to total (0 when it is
// unknown), in bytes or in items.
func newMeter(out io.Writer, what string, total int64, bytes bool) *meter {
	m := &meter{out: out, what: what, total: total, bytes: bytes, start: time.Now(), last: time.Now()}
	if isTerminal(out) {
		max := total
		if max <= 0 {
			max = -1 // a spinner
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(what),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionUseANSICodes(true),
		}
		if bytes {
			opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
		} else {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts())
		}
		m.bar = progressbar.NewOptions64(max, opts...)
	}
	return m
}

// Set moves the meter to n, with detail (what n means, "5120 documents"
// when n counts bytes) next to it.
func (m *meter) Set(n int64, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	m.n, m.detail = n, detail
	if m.bar != nil {
		if detail != "" {
			m.bar.Describe(m.what + " " + detail)
		}
		m.bar.Set64(n)
		return
	}
	if time.Since(m.last) < plainEvery {
		return
	}
	m.last = time.Now()
	fmt.Fprintln(m.out, m.line())
}

// line is the meter as a plain line: what, how far, the rate and what is
// left.
func (m *meter) line() string {
	count := func(n int64) string {
		if m.bytes {
			return humanBytes(uint64(n))
		}
		return fmt.Sprint(n)
	}
	s := m.what
	if m.detail != "" {
		s += " " + m.detail
	}
	s += ": " + count(m.n)
	if m.total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", count(m.total), 100*float64(m.n)/float64(m.total))
	}
	took := time.Since(m.start)
	if rate := float64(m.n) / took.Seconds(); rate > 0 {
		switch {
		case m.bytes:
			s += fmt.Sprintf(", %s/s", count(int64(math.Round(rate))))
		case rate < 10:
			s += fmt.Sprintf(", %.1f/s", rate)
		default:
			s += fmt.Sprintf(", %.0f/s", rate)
		}
		if m.total > m.n {
			s += fmt.Sprintf(", about %s left", time.Duration(float64(m.total-m.n)/rate*float64(time.Second)).Round(time.Second))
		}
	}
	return s
}

// Write prints p to the meter's output without gluing it to the bar:
// notices of a command (NATS is away) are written to a meter.
func (m *meter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil {
		m.bar.Clear()
	}
	return m.out.Write(p)
}

// Done removes the bar; the command then prints its summary. Calling it
// again does nothing.
func (m *meter) Done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil && !m.done {
		m.bar.Clear()
		m.bar.Exit()
	}
	m.done = true
}

// lineWriter writes to w through m, so that what a command prints on
// stdout never glues to the bar on stderr. It is safe for concurrent use.
type lineWriter struct {
	m *meter
	w io.Writer
}

func (l lineWriter) Write(p []byte) (int, error) {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.m.bar != nil {
		l.m.bar.Clear()
	}
	return l.w.Write(p)
}
