package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twin-llm/twin/internal/testwait"
)

// run runs twin with args against p and returns its exit code, stdout and
// stderr.
func (p *upProcess) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", p.http, "--nats", p.nats, "--data", p.dir)
	code := execute(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

// TestImportTellsTheTruth runs twin import on good, unchanged, bad and
// missing input against one running twin, in order: each step checks the
// exit code and what it says.
func TestImportTellsTheTruth(t *testing.T) {
	t.Parallel()
	p := startUp(t, t.TempDir())
	sample := "../../testdata/simonw-til/til-sample.jsonl"
	bad := writeTemp(t, `{"id":"ok-1","title":"Fine","text":"some text"}
not json
{"title":"no identity","text":"x"}
{"id":"empty"}
`)
	manyBad := writeTemp(t, strings.Repeat("not json\n", 7)+`{"id":"ok-2","text":"more text"}`+"\n")
	steps := []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		stderr  []string
		without []string // in neither
	}{
		{"a new file", []string{"import", sample, "--author", "Simon Willison", "--kind", "post"}, 0,
			[]string{"read 12 lines", "12 documents published, 0 bad lines skipped", "stored 12 new or changed, 0 unchanged"}, nil, nil},
		{"the same file again", []string{"import", sample, "--author", "Simon Willison", "--kind", "post"}, 0,
			[]string{"12 documents published", "stored 0 new or changed, 12 unchanged"}, nil, nil},
		{"bad lines", []string{"import", bad}, 1,
			[]string{"1 document published, 3 bad lines skipped",
				"  not a JSON object: 1 line, line 2 (line 2: invalid character",
				"  no id (or _id) and no link: nothing to identify the document by: 1 line, line 3\n",
				"  no content (or text): 1 line, line 4\n",
				"stored 1 new or changed, 0 unchanged"},
			[]string{"3 lines skipped (listed above): fix them and import the file again, or pass --skip-bad"}, nil},
		{"bad lines accepted", []string{"import", bad, "--skip-bad"}, 0,
			[]string{"3 bad lines skipped", "stored 0 new or changed, 1 unchanged"}, nil, []string{"--skip-bad"}},
		{"many bad lines of one kind", []string{"import", manyBad}, 1,
			[]string{"  not a JSON object: 7 lines, lines 1, 2, 3, 4, 5 and 2 more (line 1:", "stored 1 new or changed"},
			[]string{"7 lines skipped"}, []string{"line 6:"}},
		{"no file named", []string{"import"}, 2, nil,
			[]string{"missing the JSON-lines file to import, e.g. twin import docs.jsonl (see twin import --help)"}, nil},
		{"a file that is not there", []string{"import", "no-such.jsonl"}, 1, nil, []string{"open no-such.jsonl: no such file or directory"}, nil},
		{"an unknown kind", []string{"import", sample, "--kind", "poem"}, 1, nil, []string{`--kind "poem": want article, post or repository`}, nil},
	}
	for _, s := range steps {
		code, stdout, stderr := p.run(t, s.args...)
		t.Logf("twin %s: exit %d\n%s%s", strings.Join(s.args, " "), code, stdout, stderr)
		if code != s.code {
			t.Errorf("%s: twin %s exited %d, want %d\n%s\n%s", s.name, strings.Join(s.args, " "), code, s.code, stdout, stderr)
		}
		for _, want := range s.stdout {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: stdout does not say %q:\n%s", s.name, want, stdout)
			}
		}
		for _, want := range s.stderr {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr does not say %q:\n%s", s.name, want, stderr)
			}
		}
		for _, not := range s.without {
			if strings.Contains(stdout+stderr, not) {
				t.Errorf("%s: the output says %q:\n%s\n%s", s.name, not, stdout, stderr)
			}
		}
	}
}

// TestImportThatStopsSaysHowFarItGotAndHowToFinish imports into a NATS
// with no warehouse writer behind it: the documents are published, none
// is stored, and at --timeout the import says so and how to finish.
func TestImportThatStopsSaysHowFarItGotAndHowToFinish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	bareNATS(t, dir, natsAddr)
	file := writeCrashDocs(t, 5, func(int) int { return 1 })
	var stdout, stderr testwait.Buffer
	code := <-runAsync([]string{"import", file, "--timeout", "2s", "--warn-after", "0",
		"--data", dir, "--nats", "nats://" + natsAddr, "--server", "http://" + freeAddr(t)}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("an import nothing stored exited 0:\n%s\n%s", stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"5 documents published",
		"stopped after line 5: the warehouse holds 0 of the 5 documents published",
		"to finish, run the same command again",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout.String())
		}
	}
	if want := "gave up waiting (--timeout 2s)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
	}
}

// TestInterruptedImportSaysWhatIsStoredAndHowToFinish interrupts (as
// Ctrl-C does) an import waiting for a warehouse that does not consume.
func TestInterruptedImportSaysWhatIsStoredAndHowToFinish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	bareNATS(t, dir, natsAddr)
	file := writeCrashDocs(t, 7, func(int) int { return 1 })
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var stdout, stderr testwait.Buffer
	code := make(chan int, 1)
	go func() {
		code <- execute(ctx, []string{"import", file, "--warn-after", "0",
			"--data", dir, "--nats", "nats://" + natsAddr, "--server", "http://" + freeAddr(t)}, &stdout, &stderr, noEnv)
	}()
	testwait.Until(t, 30*time.Second, "the import to publish", func() bool {
		return strings.Contains(stdout.String(), "7 documents published")
	})
	interrupt()
	if c := <-code; c != 1 {
		t.Errorf("an interrupted import exited %d, want 1", c)
	}
	for _, want := range []string{"stopped after line 7: the warehouse holds 0 of the 7 documents published", "to finish, run the same command again"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout.String())
		}
	}
	if want := "twin: interrupted\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr does not end with %q:\n%s", want, stderr.String())
	}
}
