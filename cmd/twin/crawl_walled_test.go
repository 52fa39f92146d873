package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLoginWalledURLsAreRefusedWhenSubmitted: a LinkedIn URL never reaches
// the queue; the CLI and POST /v1/crawl say why at once.
func TestLoginWalledURLsAreRefusedWhenSubmitted(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	const walled = "https://www.linkedin.com/in/someone/"
	const reason = "linkedin.com requires a login; twin does not crawl login-walled sites"

	tests := []struct {
		name     string
		body     string
		code     int
		error    string // in "error"
		rejected int
		accepted int
	}{
		{name: "only walled", body: `{"urls":["` + walled + `"]}`, code: http.StatusBadRequest,
			error: "no acceptable URL: " + walled + ": " + reason, rejected: 1},
		{name: "short link", body: `{"urls":["https://lnkd.in/abc"]}`, code: http.StatusBadRequest,
			error: "lnkd.in requires a login", rejected: 1},
		{name: "two walled", body: `{"urls":["` + walled + `","https://x.com/someone"]}`, code: http.StatusBadRequest,
			error: "(and 1 more rejected)", rejected: 2},
		{name: "walled beside a good one", body: `{"urls":["` + walled + `","http://127.0.0.1:1/post"]}`,
			code: http.StatusAccepted, rejected: 1, accepted: 1},
	}
	for _, tt := range tests {
		resp, err := http.Post(p.http+"/v1/crawl", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Error    string
			Accepted []struct{ URL string }
			Rejected []struct{ URL, Reason string }
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.code || !strings.Contains(got.Error, tt.error) ||
			len(got.Rejected) != tt.rejected || len(got.Accepted) != tt.accepted {
			t.Errorf("%s: POST /v1/crawl = %d %+v (%v), want %d, error with %q, %d rejected, %d accepted",
				tt.name, resp.StatusCode, got, err, tt.code, tt.error, tt.rejected, tt.accepted)
			continue
		}
		for _, r := range got.Rejected {
			if !strings.Contains(r.Reason, "requires a login") {
				t.Errorf("%s: %s rejected for %q", tt.name, r.URL, r.Reason)
			}
		}
	}

	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"crawl", walled, "--wait", "--server", p.http}, &out, &errOut, noEnv)
	if code != 1 || !strings.Contains(out.String(), "rejected  "+walled+": "+reason) || strings.Contains(out.String(), "queued") {
		t.Errorf("twin crawl %s --wait = %d\n%s%s\nwant exit 1 and the refusal, nothing queued", walled, code, out.String(), errOut.String())
	}

	// Only the good URL of the mixed request was queued.
	js, _ := jetstream.New(p.connect(t))
	st, err := js.Stream(context.Background(), "CRAWL")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// LastSeq counts every request ever queued, crawled since or not.
	if n := info.State.LastSeq; n != 1 {
		t.Errorf("CRAWL was given %d requests, want only the one good URL", n)
	}
}

func TestCrawlFailureLineSaysWhatItsCountMeans(t *testing.T) {
	t.Parallel()
	site := postSite(t)
	p := startUp(t, t.TempDir(), "--crawl-allow-private")
	out, err := p.twin(t, "crawl", site.URL+"/post", site.URL+"/missing", "--wait")
	if err == nil {
		t.Fatalf("twin crawl --wait with a missing page succeeded:\n%s", out)
	}
	for _, want := range []string{
		"stored    " + site.URL + "/post (1 document)  [",
		"failed    " + site.URL + "/missing: ",
		"[2 of 2 URLs done: 1 stored, 1 failed]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("twin crawl --wait lacks %q:\n%s", want, out)
		}
	}
}
