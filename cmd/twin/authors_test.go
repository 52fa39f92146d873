package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorsKeepTheirSpellingAndUnknownOnesAreNamed imports the sample
// posts without --author (their author is in first_author, as the
// simonw-til export writes it), then asks for authors the way users type
// them: any case finds Simon Willison, spelled as he spells it; a name
// the warehouse does not know is an error that lists the names it does,
// from the API (404), from twin search and from twin chat (exit 1).
func TestAuthorsKeepTheirSpellingAndUnknownOnesAreNamed(t *testing.T) {
	p := startUp(t, t.TempDir())
	out, err := p.twin(t, "import", "../../testdata/simonw-til/til-sample.jsonl", "--kind", "post", "--wait")
	if err != nil || !strings.Contains(out, "searchable") {
		t.Fatalf("import: %q %v", out, err)
	}

	code, body := get(t, p.http+"/v1/authors")
	var authors struct{ Authors []struct{ Name string } }
	if code != 200 || json.Unmarshal([]byte(body), &authors) != nil || len(authors.Authors) != 1 || authors.Authors[0].Name != "Simon Willison" {
		t.Fatalf("/v1/authors = %d %s, want the one author of first_author, spelled Simon Willison", code, body)
	}

	const unknown = `no author named "Simon W"; the only author is Simon Willison`
	for _, tc := range []struct {
		name   string
		args   []string
		exitOK bool
		want   string
	}{
		{"search, any case", []string{"search", "apache bench length errors", "--author", "simon WILLISON", "-k", "1"}, true, "ab/apache-bench-length-errors"},
		{"search, unknown author", []string{"search", "apache bench", "--author", "Simon W"}, false, unknown},
		{"chat, unknown author", []string{"chat", "--author", "Simon W", "What are Apache Bench length errors?"}, false, unknown},
		{"chat, any case", []string{"chat", "--author", "SIMON willison", "What are Apache Bench length errors?"}, true, "Sources:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.twin(t, tc.args...)
			if (err == nil) != tc.exitOK {
				t.Fatalf("twin %s: exit error %v, want success %v (output %q)", strings.Join(tc.args, " "), err, tc.exitOK, out)
			}
			if s := out + " " + errText(err); !strings.Contains(s, tc.want) {
				t.Fatalf("twin %s said %q, want it to say %q", strings.Join(tc.args, " "), s, tc.want)
			}
		})
	}

	code, body = get(t, p.http+"/v1/search?"+url.Values{"q": {"bench"}, "author": {"Simon W"}}.Encode())
	var e struct{ Error string }
	if code != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error != unknown {
		t.Fatalf("/v1/search for an unknown author = %d %s, want 404 with %q", code, body, unknown)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
