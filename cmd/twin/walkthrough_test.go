package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// walkStep is one command of the README's walkthrough.
type walkStep struct {
	line    string   // as written
	args    []string // after "twin"
	comment string   // what follows " # "
}

// readWalkthrough reads the command lines of the fenced sh blocks of the
// README's section named heading, in order: lines that start with "twin"
// or "go run ./cmd/twin", split as a shell would, with their comments.
func readWalkthrough(t *testing.T, readme, heading string) []walkStep {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	section := readme[i+len(heading)+2:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	var steps []walkStep
	inBlock := false
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock && strings.TrimPrefix(line, "```") == "sh"
			continue
		case !inBlock:
			continue
		}
		words, comment, err := shellWords(line)
		if err != nil {
			t.Fatalf("README line %q: %v", line, err)
		}
		if len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/twin" {
			words = append([]string{"twin"}, words[3:]...)
		}
		if len(words) == 0 || words[0] != "twin" {
			continue
		}
		steps = append(steps, walkStep{line: line, args: words[1:], comment: comment})
	}
	return steps
}

// shellWords splits a command line as sh does for the quoting the README
// uses (single and double quotes, backslash escapes) and returns the
// comment after an unquoted " #".
func shellWords(line string) (words []string, comment string, err error) {
	var w strings.Builder
	inWord := false
	var quote rune
	runes := []rune(line)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == '\'':
			w.WriteRune(r)
		case r == '\\' && i+1 < len(runes):
			i++
			w.WriteRune(runes[i])
			inWord = true
		case quote == '"':
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words, strings.TrimSpace(string(runes[i+1:])), nil
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, "", fmt.Errorf("unclosed %c", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, "", nil
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, comment string
		words         []string
	}{
		{`twin chat "How do I?"   # cites "X"`, `cites "X"`, []string{"twin", "chat", "How do I?"}},
		{`twin search 'a "b"' --k 3`, "", []string{"twin", "search", `a "b"`, "--k", "3"}},
		{`twin crawl https://x.example/a#frag`, "", []string{"twin", "crawl", "https://x.example/a#frag"}},
		{`twin a\ b ""`, "", []string{"twin", "a b", ""}},
	}
	for _, tt := range tests {
		words, comment, err := shellWords(tt.line)
		if err != nil || comment != tt.comment || !slicesEqual(words, tt.words) {
			t.Errorf("shellWords(%q) = %q, %q, %v; want %q, %q", tt.line, words, comment, err, tt.words, tt.comment)
		}
	}
	if _, _, err := shellWords(`twin chat "open`); err == nil {
		t.Error("an unclosed quote was accepted")
	}
}

func slicesEqual(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b) && len(a) == len(b)
}

// samplePosts maps the titles of the posts in the repository's sample to
// their URLs.
func samplePosts(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	posts := map[string]string{}
	for line := range bytes.SplitSeq(bytes.TrimSpace(data), []byte("\n")) {
		var p struct{ Title, URL string }
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatalf("%s: %v", sampleFile, err)
		}
		posts[p.Title] = p.URL
	}
	return posts
}

var (
	expectsPost   = regexp.MustCompile(`^(?:finds|cites) "([^"]+)"`)
	needsInternet = "needs the internet"
)

// TestREADMEWalkthrough runs the README's first-hour commands as written,
// on a fresh data dir and loopback ports, offline: twin up, then every
// client command with nothing but the gateway's address (TWIN_SERVER, as
// the banner says to export it). A search or chat whose comment names a
// post ("finds", "cites") must show that post; a command that needs the
// internet must say so and is not run.
func TestREADMEWalkthrough(t *testing.T) {
	t.Chdir("../..") // the README's paths are from the root
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps := readWalkthrough(t, string(readme), "## The first hour")
	if len(steps) == 0 || len(steps[0].args) == 0 || steps[0].args[0] != "up" {
		t.Fatalf("the walkthrough does not start with twin up: %q", steps)
	}
	posts := samplePosts(t)
	p := startUp(t, t.TempDir(), steps[0].args[1:]...)
	env := func(k string) string {
		if k == "TWIN_SERVER" {
			return p.http
		}
		return ""
	}

	checked := map[string]int{}
	for _, s := range steps[1:] {
		if s.args[0] == "up" {
			continue // the walkthrough's other ways to start, such as a real LLM
		}
		online := strings.Contains(s.comment, needsInternet)
		for _, a := range s.args {
			if (strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://")) && !online {
				t.Errorf("README: %q fetches %s but does not say %q", s.line, a, needsInternet)
			}
		}
		if online {
			continue
		}
		var out, errOut bytes.Buffer
		if code := execute(context.Background(), s.args, &out, &errOut, env); code != 0 {
			t.Fatalf("README: %q exited %d:\n%s\n%s", s.line, code, out.String(), errOut.String())
		}
		m := expectsPost.FindStringSubmatch(s.comment)
		if m == nil {
			continue
		}
		url, ok := posts[m[1]]
		if !ok {
			t.Errorf("README: %q is about %q, which is not in %s", s.line, m[1], sampleFile)
			continue
		}
		if !strings.Contains(out.String(), m[1]) && !strings.Contains(out.String(), url) {
			t.Errorf("README: %q does not show %q (%s):\n%s", s.line, m[1], url, out.String())
		}
		checked[s.args[0]]++
	}
	if checked["search"] == 0 || checked["chat"] == 0 {
		t.Errorf("the walkthrough checks %v: want a search and a chat that name the post they find", checked)
	}
}
