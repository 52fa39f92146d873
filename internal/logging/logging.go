// Package logging builds the process's zerolog logger. Loggers are values:
// components narrow the one they are given with With().
package logging

import (
	"fmt"
	"io"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Formats New accepts.
const (
	// Auto writes console lines to a terminal and JSON lines elsewhere: a
	// person reads the one, a log collector the other.
	Auto    = "auto"
	JSON    = "json"
	Console = "console"
)

// New returns a logger writing to w: JSON lines ("json", for log
// collectors), human lines ("console"; coloured on a terminal), or the one
// that suits w ("auto" or empty: console when w is a terminal).
func New(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: want trace, debug, info, warn or error", level)
	}
	tty := Terminal(w)
	switch format {
	case JSON:
	case Auto, "":
		if tty {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	case Console:
		w = zerolog.ConsoleWriter{Out: w, NoColor: !tty, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want auto, json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Terminal reports whether w is a terminal (a file whose descriptor is a
// TTY), where a person reads what is written.
func Terminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
