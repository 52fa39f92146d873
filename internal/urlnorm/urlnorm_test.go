package urlnorm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// normalizeCases is shared by the table test and the fuzz seed corpus.
// want is the normalized URL; when it is empty, the URL is refused and
// reason is a substring of the error.
var normalizeCases = []struct {
	name   string
	in     string
	local  bool
	want   string
	reason string
}{
	// Accepted and left alone.
	{name: "already canonical", in: "https://example.com/a/b", want: "https://example.com/a/b"},
	{name: "empty path becomes slash", in: "https://example.com", want: "https://example.com/"},
	{name: "http kept", in: "http://example.com/", want: "http://example.com/"},

	// White space, case, ports, fragments.
	{name: "trimmed", in: "  \thttps://example.com/x \n", want: "https://example.com/x"},
	{name: "scheme and host lowercased", in: "HTTPS://WWW.Example.COM/Path", want: "https://www.example.com/Path"},
	{name: "default http port dropped", in: "http://example.com:80/a", want: "http://example.com/a"},
	{name: "default https port dropped", in: "https://example.com:443/a", want: "https://example.com/a"},
	{name: "leading zeros of default port", in: "https://example.com:0443/", want: "https://example.com/"},
	{name: "other port kept", in: "https://example.com:8443/a", want: "https://example.com:8443/a"},
	{name: "port 443 on http kept", in: "http://example.com:443/", want: "http://example.com:443/"},
	{name: "empty port", in: "http://example.com:/a", want: "http://example.com/a"},
	{name: "fragment dropped", in: "https://example.com/a#section-2", want: "https://example.com/a"},
	{name: "fragment only", in: "https://example.com#top", want: "https://example.com/"},
	{name: "trailing dot of host", in: "https://example.com./a", want: "https://example.com/a"},
	{name: "underscore in host", in: "https://my_service.example.com/", want: "https://my_service.example.com/"},
	{name: "many hyphens in host", in: "https://r3---sn-abc.googlevideo.com/", want: "https://r3---sn-abc.googlevideo.com/"},

	// Hosts: IDNA, IP literals.
	{name: "IDNA host", in: "https://Bücher.example/", want: "https://xn--bcher-kva.example/"},
	{name: "IDNA punycode kept", in: "https://xn--bcher-kva.example/", want: "https://xn--bcher-kva.example/"},
	{name: "IDNA fullwidth", in: "https://ｅｘａｍｐｌｅ.com/", want: "https://example.com/"},
	{name: "IDNA ideographic dot", in: "https://example。com/", want: "https://example.com/"},
	{name: "IPv4", in: "http://127.0.0.1:8080/x", want: "http://127.0.0.1:8080/x"},
	{name: "IPv6 canonical", in: "http://[2001:DB8:0:0::1]:8080/", want: "http://[2001:db8::1]:8080/"},
	{name: "IPv6 default port", in: "https://[::1]:443/", want: "https://[::1]/"},
	{name: "IPv4-mapped IPv6", in: "http://[::FFFF:127.0.0.1]/", want: "http://[::ffff:127.0.0.1]/"},

	// Paths.
	{name: "dot segments", in: "https://example.com/a/./b/../c", want: "https://example.com/a/c"},
	{name: "dot-dot above root", in: "https://example.com/../../a", want: "https://example.com/a"},
	{name: "final dot-dot keeps slash", in: "https://example.com/a/b/..", want: "https://example.com/a/"},
	{name: "final dot keeps slash", in: "https://example.com/a/.", want: "https://example.com/a/"},
	{name: "double slashes collapse", in: "https://example.com//a///b", want: "https://example.com/a/b"},
	{name: "trailing slash kept", in: "https://example.com/a/b/", want: "https://example.com/a/b/"},
	{name: "trailing double slash", in: "https://example.com/a//", want: "https://example.com/a/"},
	{name: "only slashes", in: "https://example.com///", want: "https://example.com/"},
	{name: "escaped dots resolved", in: "https://example.com/a/%2E%2E/b", want: "https://example.com/b"},

	// Percent-encoding.
	{name: "unreserved decoded", in: "https://example.com/%7Euser/%41%62c", want: "https://example.com/~user/Abc"},
	{name: "hex uppercased", in: "https://example.com/a%2fb%c3%a9", want: "https://example.com/a%2Fb%C3%A9"},
	{name: "escaped slash stays escaped", in: "https://example.com/a%2Fb", want: "https://example.com/a%2Fb"},
	{name: "space escaped", in: "https://example.com/a b", want: "https://example.com/a%20b"},
	{name: "unicode path escaped", in: "https://example.com/café", want: "https://example.com/caf%C3%A9"},
	{name: "brackets and backslash escaped", in: `https://example.com/a[1]\b`, want: "https://example.com/a%5B1%5D%5Cb"},
	{name: "sub-delims kept", in: "https://example.com/a;b=c,d!$'()*+:@", want: "https://example.com/a;b=c,d!$'()*+:@"},
	{name: "query escapes", in: "https://example.com/?q=a%2bb%20c&r=%7e", want: "https://example.com/?q=a%2Bb%20c&r=~"},
	{name: "query unicode", in: "https://example.com/?q=é", want: "https://example.com/?q=%C3%A9"},

	// Queries.
	{name: "params sorted", in: "https://example.com/?b=2&a=1&c=3", want: "https://example.com/?a=1&b=2&c=3"},
	{name: "repeated names keep order", in: "https://example.com/?b=2&a=z&a=y&b=1", want: "https://example.com/?a=z&a=y&b=2&b=1"},
	{name: "utm removed", in: "https://example.com/p?utm_source=x&utm_medium=y&id=7", want: "https://example.com/p?id=7"},
	{name: "tracking case-insensitive", in: "https://example.com/p?UTM_Campaign=x&FBCLID=y", want: "https://example.com/p"},
	{name: "escaped tracking name", in: "https://example.com/p?utm%5Fsource=x&k=v", want: "https://example.com/p?k=v"},
	{name: "many trackers", in: "https://example.com/?gclid=1&msclkid=2&mc_cid=3&mc_eid=4&igshid=5&ref_src=6&_hsenc=7&_hsmi=8&yclid=9&x=1", want: "https://example.com/?x=1"},
	{name: "generic ref kept", in: "https://example.com/?ref=home", want: "https://example.com/?ref=home"},
	{name: "empty query dropped", in: "https://example.com/a?", want: "https://example.com/a"},
	{name: "empty params dropped", in: "https://example.com/a?&&x=1&", want: "https://example.com/a?x=1"},
	{name: "param without value", in: "https://example.com/a?flag&b=", want: "https://example.com/a?b=&flag"},
	{name: "plus kept", in: "https://example.com/search?q=a+b", want: "https://example.com/search?q=a+b"},
	{name: "question mark in query", in: "https://example.com/?next=/a?b", want: "https://example.com/?next=/a?b"},
	{name: "fragment with query", in: "https://example.com/?b=1&a=2#x?y", want: "https://example.com/?a=2&b=1"},

	// Refused.
	{name: "empty", in: "   ", reason: "empty URL"},
	{name: "ftp", in: "ftp://example.com/file", reason: `unsupported scheme "ftp"`},
	{name: "javascript", in: "javascript:alert(1)", reason: `unsupported scheme "javascript"`},
	{name: "mailto", in: "mailto:someone@example.com", reason: `unsupported scheme "mailto"`},
	{name: "data", in: "data:text/html,hi", reason: `unsupported scheme "data"`},
	{name: "no scheme", in: "example.com/page", reason: "no scheme"},
	{name: "host and port without scheme", in: "localhost:8080/x", reason: "no scheme"},
	{name: "scheme-relative", in: "//example.com/x", reason: "no scheme"},
	{name: "no host", in: "https:///path", reason: "no host"},
	{name: "opaque http", in: "http:example.com", reason: "no host"},
	{name: "one slash", in: "http:/example.com", reason: "no host"},
	{name: "userinfo", in: "https://user:pass@example.com/", reason: "user credentials"},
	{name: "user only", in: "https://user@example.com/", reason: "user credentials"},
	{name: "bad escape", in: "https://example.com/%zz", reason: "does not parse"},
	{name: "space in host", in: "https://exa mple.com/", reason: "does not parse"},
	{name: "bad host char", in: "https://ex<ample.com/", reason: "host name"},
	{name: "empty label", in: "https://example..com/", reason: "invalid host name"},
	{name: "label too long", in: "https://" + strings.Repeat("a", 64) + ".com/", reason: "invalid host name"},
	{name: "port out of range", in: "https://example.com:65536/", reason: "invalid port"},
	{name: "port zero", in: "https://example.com:0/", reason: "invalid port"},
	{name: "ipv6 zone", in: "http://[fe80::1%25eth0]/", reason: "zone"},
	{name: "control character", in: "https://example.com/a\x7fb\x00", reason: "does not parse"},
	{name: "too long", in: "https://example.com/" + strings.Repeat("a", 2030), reason: "the limit is 2048"},
	{name: "too long after escaping", in: "https://example.com/" + strings.Repeat("é", 700), reason: "the limit is 2048"},
	{name: "local path without flag", in: "/home/me/notes.md", reason: "local files are not enabled (--crawl-local)"},
	{name: "relative path without flag", in: "./notes.md", reason: "local files are not enabled (--crawl-local)"},
	{name: "file URL without flag", in: "file:///home/me/notes.md", reason: "local files are not enabled (--crawl-local)"},
	{name: "file URL on another host", in: "file://server/share/a.md", local: true, reason: "another host"},
	{name: "relative file URL", in: "file:notes.md", local: true, reason: "absolute path"},
	{name: "file URL without path", in: "file://", local: true, reason: "needs a path"},

	// Local files, when enabled.
	{name: "file URL", in: "file:///home/me/notes.md", local: true, want: "file:///home/me/notes.md"},
	{name: "file URL uppercase scheme", in: "FILE:///home/me/a.md#x", local: true, want: "file:///home/me/a.md"},
	{name: "file URL localhost", in: "file://localhost/home/me/a.md", local: true, want: "file:///home/me/a.md"},
	{name: "file URL one slash", in: "file:/home/me/a.md", local: true, want: "file:///home/me/a.md"},
	{name: "file URL cleaned", in: "file:///home/me/../you/./a%20b.md", local: true, want: "file:///home/you/a%20b.md"},
	{name: "file URL drops query", in: "file:///a.md?x=1", local: true, want: "file:///a.md"},
	{name: "absolute path", in: "/home/me/notes.md", local: true, want: "file:///home/me/notes.md"},
	{name: "absolute path cleaned", in: "/home//me/./x/../notes.md", local: true, want: "file:///home/me/notes.md"},
	{name: "absolute path escaped", in: "/home/me/my notes#1%.md", local: true, want: "file:///home/me/my%20notes%231%25.md"},
	{name: "http still works with local", in: "https://example.com", local: true, want: "https://example.com/"},
	{name: "ftp refused with local", in: "ftp://example.com/", local: true, reason: "unsupported scheme"},
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.in, Options{AllowLocal: tc.local})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Normalize(%q) = %q, want an error containing %q", tc.in, got, tc.reason)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Normalize(%q) error %v does not match ErrInvalid", tc.in, err)
				}
				if !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("Normalize(%q) error %q, want it to contain %q", tc.in, err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q) failed: %v, want %q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := Normalize(got, Options{AllowLocal: tc.local})
			if err != nil || again != got {
				t.Fatalf("Normalize is not idempotent on %q: got %q, %v", got, again, err)
			}
		})
	}
}

func TestRefusalReasonIsTheWholeMessage(t *testing.T) {
	t.Parallel()
	_, err := Normalize("ftp://example.com/", Options{})
	if got, want := err.Error(), `unsupported scheme "ftp": use http or https`; got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Reason != err.Error() {
		t.Fatalf("error %#v is not an *Error carrying its reason", err)
	}
}

func TestRelativeLocalPathBecomesAbsoluteFileURL(t *testing.T) {
	// Not parallel: it depends on the working directory, which t.Chdir changes.
	dir := t.TempDir()
	t.Chdir(dir)
	wd, err := os.Getwd() // the temp dir may sit behind a symbolic link
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"notes/a.md", "./notes/a.md", "notes/../notes/a.md"} {
		got, err := Normalize(in, Options{AllowLocal: true})
		if err != nil {
			t.Fatalf("Normalize(%q): %v", in, err)
		}
		want := "file://" + filepath.ToSlash(filepath.Join(wd, "notes", "a.md"))
		if got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://example.com/a", "example.com"},
		{"https://example.com:8443/a", "example.com"},
		{"http://[2001:db8::1]:8080/", "2001:db8::1"},
		{"file:///home/me/a.md", ""},
		{"::not a url", ""},
	} {
		if got := Host(tc.in); got != tc.want {
			t.Errorf("Host(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.in, tc.local)
	}
	f.Fuzz(func(t *testing.T, in string, local bool) {
		opts := Options{AllowLocal: local}
		got, err := Normalize(in, opts)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Normalize(%q) error %v does not match ErrInvalid", in, err)
			}
			return
		}
		if len(got) > MaxLength {
			t.Fatalf("Normalize(%q) = %d bytes, over the limit", in, len(got))
		}
		again, err := Normalize(got, opts)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, which is then refused: %v", in, got, err)
		}
		if again != got {
			t.Fatalf("not idempotent: Normalize(%q) = %q, then %q", in, got, again)
		}
		if Host(got) == "" && !strings.HasPrefix(got, "file:") {
			t.Fatalf("Normalize(%q) = %q has no host", in, got)
		}
	})
}
