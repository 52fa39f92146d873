package datasets

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// Files of a dataset directory.
const (
	TrainFile    = "train.jsonl"
	TestFile     = "test.jsonl"
	ManifestFile = "manifest.json"
)

// checkDir refuses a directory that holds anything but the files of a
// build: a build replaces those and nothing else, so that a mistyped path
// never mixes a dataset into someone's directory.
func checkDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: output directory: %v", ErrInvalid, err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == TrainFile || name == TestFile || name == ManifestFile:
		case strings.HasPrefix(name, "."+TrainFile+".") || strings.HasPrefix(name, "."+TestFile+".") ||
			strings.HasPrefix(name, "."+ManifestFile+"."):
			// A temporary file of a build that was interrupted.
		default:
			return fmt.Errorf("%w: output directory %s holds %s: give an empty or new directory", ErrInvalid, dir, e.Name())
		}
	}
	return nil
}

// write writes the two splits and the manifest (the record), each to a
// temporary file renamed into place, the manifest last: a directory with a
// manifest holds a whole build.
func write(dir, format string, train, test []Example, rec warehouse.DatasetRecord) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("write dataset: %w", err)
	}
	_ = os.Remove(filepath.Join(dir, ManifestFile))
	if err := writeFile(dir, TrainFile, func(w *bufio.Writer) error { return writeLines(w, format, train) }); err != nil {
		return err
	}
	if err := writeFile(dir, TestFile, func(w *bufio.Writer) error { return writeLines(w, format, test) }); err != nil {
		return err
	}
	return writeFile(dir, ManifestFile, func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	})
}

func writeLines(w *bufio.Writer, format string, examples []Example) error {
	for _, e := range examples {
		line, err := e.line(format)
		if err != nil {
			return err
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	return nil
}

func writeFile(dir, name string, fill func(*bufio.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if err := fill(w); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Chmod(f.Name(), 0o640); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
