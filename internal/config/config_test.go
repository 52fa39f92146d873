package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsBeatEnvironmentBeatsFile(t *testing.T) {
	t.Parallel()
	file := map[string]string{"http": "file:1", "data": "/from/file", "log-level": "debug", "tokens": "a,b"}
	env := map[string]string{"TWIN_HTTP": "env:2", "TWIN_DATA": "/from/env"}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	httpAddr := fs.String("http", "default:0", "")
	data := fs.String("data", "/default", "")
	level := fs.String("log-level", "info", "")
	untouched := fs.String("other", "default", "")
	tokens := fs.StringSlice("tokens", nil, "")
	if err := fs.Parse([]string{"--http", "flag:3"}); err != nil {
		t.Fatal(err)
	}
	known := func(k string) bool { return fs.Lookup(k) != nil }
	if err := Apply(fs, file, func(k string) string { return env[k] }, known); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"flag over env and file", *httpAddr, "flag:3"},
		{"env over file", *data, "/from/env"},
		{"file over default", *level, "debug"},
		{"default", *untouched, "default"},
		{"list from file", strings.Join(*tokens, "|"), "a|b"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if fs.Changed("data") {
		t.Error("a value from the environment marked the flag as set on the command line")
	}
}

func TestApplyRejectsUnknownKeysAndBadValues(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Int("workers", 1, "")
	fs.Bool("crawl-allow-private", false, "")
	known := func(k string) bool { return k == "workers" || k == "crawl-allow-private" || k == "elsewhere" }
	err := Apply(fs, map[string]string{"wokers": "2", "elsewhere": "x"}, func(string) string { return "" }, known)
	if err == nil || !strings.Contains(err.Error(), `"wokers"`) || strings.Contains(err.Error(), "elsewhere") {
		t.Fatalf("err = %v, want the typo named and another command's key ignored", err)
	}
	err = Apply(fs, nil, func(k string) string {
		if k == "TWIN_WORKERS" {
			return "many"
		}
		return ""
	}, known)
	if err == nil || !strings.Contains(err.Error(), "TWIN_WORKERS") {
		t.Fatalf("err = %v, want the bad variable named", err)
	}
}

func TestBooleanEnvironmentValues(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"1": true, "yes": true, "true": true, "0": false, "off": false} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		b := fs.Bool("crawl-allow-private", !want, "")
		err := Apply(fs, nil, func(k string) string {
			if k == "TWIN_CRAWL_ALLOW_PRIVATE" {
				return v
			}
			return ""
		}, func(string) bool { return true })
		if err != nil || *b != want {
			t.Errorf("TWIN_CRAWL_ALLOW_PRIVATE=%s: got %v (%v), want %v", v, *b, err, want)
		}
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("http: 0.0.0.0:8080\nworkers: 4\nauth-token: [a, b]\nempty:\n"), 0o600)
	got, err := ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if got["http"] != "0.0.0.0:8080" || got["workers"] != "4" || got["auth-token"] != "a,b" {
		t.Errorf("ReadFile = %v", got)
	}
	if _, ok := got["empty"]; ok {
		t.Error("an empty key was kept")
	}
	nested := filepath.Join(dir, "nested.yaml")
	os.WriteFile(nested, []byte("nats:\n  url: x\n"), 0o600)
	if _, err := ReadFile(nested); err == nil || !strings.Contains(err.Error(), "nats") {
		t.Errorf("nested mapping: err = %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"512": 512, "10MB": 10e6, "8GiB": 8 << 30, "1.5 KiB": 1536, "0": 0} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ten", "-1MB", "1XB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	if s := FormatBytes(10 << 30); s != "10GiB" {
		t.Errorf("FormatBytes = %s", s)
	}
}
