// Package config resolves twin's settings from, in order of precedence,
// command-line flags, TWIN_* environment variables and an optional YAML
// file. Every setting is a flag; the environment variable and the file key
// are derived from the flag's name, so the three can never disagree:
//
//	--nats-listen 127.0.0.1:4222   TWIN_NATS_LISTEN=127.0.0.1:4222   nats-listen: 127.0.0.1:4222
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// EnvName is the environment variable of a flag: TWIN_ and the name in
// upper case with dashes as underscores.
func EnvName(flag string) string {
	return "TWIN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ReadFile reads a YAML config file: a mapping of flag names to values
// (scalars, or lists for flags that take several values).
func ReadFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
			continue
		case map[string]any:
			return nil, fmt.Errorf("config file %s: key %q: want a value or a list, got a mapping", path, k)
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// Apply sets every flag of fs that the command line left alone from its
// environment variable, else from file. known tells whether a file key is
// a flag of any command: a key no command has is a typo and an error, a
// key of another command is ignored.
func Apply(fs *pflag.FlagSet, file map[string]string, getenv func(string) string, known func(string) bool) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := set(fs, f, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := set(fs, f, v); err != nil {
				errs = append(errs, fmt.Errorf("config key %s: %w", f.Name, err))
			}
		}
	})
	keys := make([]string, 0, len(file))
	for k := range file {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !known(k) {
			errs = append(errs, fmt.Errorf("config key %q is not a twin setting", k))
		}
	}
	return errors.Join(errs...)
}

// set gives a flag a value from the environment or the file. A flag that
// takes a list is replaced, not appended to.
func set(fs *pflag.FlagSet, f *pflag.Flag, v string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.Replace(strings.Split(v, ","))
	}
	if f.Value.Type() == "bool" {
		// TWIN_X=1 and yes are as true as "true".
		switch strings.ToLower(v) {
		case "1", "yes", "on":
			v = "true"
		case "0", "no", "off":
			v = "false"
		}
	}
	if err := fs.Set(f.Name, v); err != nil {
		return err
	}
	// Set marks the flag as changed; it did not come from the command line.
	f.Changed = false
	return nil
}

// Bytes is a flag value for a size: 512MiB, 8GiB, 10MB, or plain bytes.
type Bytes int64

var units = []struct {
	suffix string
	n      int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseBytes parses a size with an optional unit.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return int64(n * float64(mult)), nil
}

// FormatBytes prints n with the largest binary unit that divides it.
func FormatBytes(n int64) string {
	for i := 3; i >= 0; i-- {
		if u := units[i]; n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func (b *Bytes) String() string { return FormatBytes(int64(*b)) }

// Set implements pflag.Value.
func (b *Bytes) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = Bytes(n)
	return nil
}

// Type implements pflag.Value.
func (b *Bytes) Type() string { return "size" }
