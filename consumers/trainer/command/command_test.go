package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/testwait"
	"github.com/twin-llm/twin/schemas"
)

// script writes body as an executable sh script in a temporary directory
// and returns the command line that runs it.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "train.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return "sh " + path
}

// newJob is a job over a fresh dataset directory and a fresh, empty
// output directory.
func newJob(t *testing.T) trainer.Job {
	t.Helper()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "train.jsonl"), []byte(`{"instruction":"q","output":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return trainer.Job{
		ID:              "twin-sft-20261206-0001",
		Kind:            schemas.TrainingSFT,
		TriggerID:       "trigger-1",
		DatasetDir:      data,
		OutputDir:       filepath.Join(t.TempDir(), "out"),
		Hyperparameters: map[string]string{"learning_rate": "0.0003", "lora-r": "32"},
	}
}

func newExecutor(t *testing.T, cfg Config) (*Executor, *testwait.Buffer) {
	t.Helper()
	logs := &testwait.Buffer{}
	e, err := New(cfg, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	return e, logs
}

type progressLog struct {
	mu     sync.Mutex
	states []string
}

func (p *progressLog) record(state, message string, _ time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states = append(p.states, state+": "+message)
}

func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.states, "; ")
}

func TestSuccessRegistersTheOutputDirWithTheJobsEnvironment(t *testing.T) {
	t.Parallel()
	e, logs := newExecutor(t, Config{Command: script(t, `
echo "training on $TWIN_DATASET_DIR"
echo "a warning" >&2
wc -l < "$TWIN_DATASET_DIR/train.jsonl" > "$TWIN_OUTPUT_DIR/lines"
env | grep '^TWIN_' | sort > "$TWIN_OUTPUT_DIR/env"
`)})
	job := newJob(t)
	var progress progressLog
	res, err := e.Run(context.Background(), job, progress.record)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "file://" + job.OutputDir; res.ArtifactURI != want {
		t.Errorf("artifact %q, want %q", res.ArtifactURI, want)
	}
	if res.Metrics["seconds"] <= 0 {
		t.Errorf("metrics %v: want the seconds the command ran", res.Metrics)
	}
	if !strings.HasPrefix(progress.String(), schemas.StateRunning+": command started") {
		t.Errorf("progress %q: want the running state first", progress.String())
	}
	lines, err := os.ReadFile(filepath.Join(job.OutputDir, "lines"))
	if err != nil || strings.TrimSpace(string(lines)) != "1" {
		t.Errorf("the program read %q lines of the dataset (%v), want 1", lines, err)
	}
	env, err := os.ReadFile(filepath.Join(job.OutputDir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"TWIN_DATASET_DIR=" + job.DatasetDir,
		"TWIN_OUTPUT_DIR=" + job.OutputDir,
		"TWIN_JOB_ID=" + job.ID,
		"TWIN_TRAINING_KIND=sft",
		"TWIN_HP_LEARNING_RATE=0.0003",
		"TWIN_HP_LORA_R=32",
	} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("environment lacks %s; the program saw:\n%s", want, env)
		}
	}
	for _, want := range []string{`"message":"training on ` + job.DatasetDir, `"message":"a warning"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestFailuresAreJobFailuresWithTheExitAndTheLastLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		// raw is a command line run as it is, in place of a script.
		raw     string
		want    []string
		notWant []string
	}{
		{
			name: "non-zero exit",
			body: "i=1; while [ $i -le 30 ]; do echo \"step $i\"; i=$((i+1)); done; echo 'CUDA out of memory' >&2; exit 3\n",
			want: []string{"exited with code 3", "CUDA out of memory", "step 30"},
			// The message carries the last lines only.
			notWant: []string{"step 1\n", "step 20\n"},
		},
		{
			name: "no such program",
			body: "exec /nonexistent/trainer\n",
			want: []string{"exited with code 127", "/nonexistent/trainer"},
		},
		{
			name: "exit 0 without a model",
			body: "echo 'nothing to train on'\n",
			want: []string{"wrote nothing", "nothing to train on"},
		},
		{
			// A line past the log's bound is cut, and what follows it
			// is still read.
			name:    "a line longer than the bound",
			body:    "head -c 200000 /dev/zero | tr '\\0' x; echo; echo 'after the long line'; exit 4\n",
			want:    []string{"exited with code 4", "after the long line"},
			notWant: []string{strings.Repeat("x", maxLine+1)},
		},
		{
			name: "killed by a signal",
			raw:  "echo dying; kill -9 $$",
			want: []string{"killed by killed", "dying"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			command := tc.raw
			if command == "" {
				command = script(t, tc.body)
			}
			e, _ := newExecutor(t, Config{Command: command, TailLines: 5})
			res, err := e.Run(context.Background(), newJob(t), nil)
			if !errors.Is(err, trainer.ErrJobFailed) {
				t.Fatalf("Run: %v (artifact %q); want ErrJobFailed", err, res.ArtifactURI)
			}
			if res.ArtifactURI != "" {
				t.Errorf("a failed job has artifact %q", res.ArtifactURI)
			}
			msg := err.Error() + "\n"
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("error %q holds %q, beyond the last lines", msg, w)
				}
			}
		})
	}
}

func TestCancelStopsTheWholeProcessGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// trap is how the program takes SIGTERM (the shell's ignoring it
		// is inherited by every process it starts).
		trap string
		want string
	}{
		{name: "leaves on SIGTERM", trap: "", want: "killed by terminated"},
		{name: "ignores SIGTERM until SIGKILL", trap: "trap '' TERM", want: "killed by killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "child.pid")
			e, _ := newExecutor(t, Config{
				Command: tc.trap + "\n" + script(t, `
sleep 300 &
echo $! > "`+marker+`.tmp" && mv "`+marker+`.tmp" "`+marker+`"
wait
`),
				Grace: 200 * time.Millisecond,
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := e.Run(ctx, newJob(t), nil)
				done <- err
			}()
			var child int
			testwait.Until(t, 10*time.Second, "the program to start its child", func() bool {
				b, err := os.ReadFile(marker)
				if err != nil {
					return false
				}
				child, err = strconv.Atoi(strings.TrimSpace(string(b)))
				return err == nil
			})
			cancel()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after the cancel")
			}
			if !errors.Is(err, trainer.ErrJobStopped) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v; want ErrJobStopped and the context's cause", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			testwait.Until(t, 10*time.Second, fmt.Sprintf("the child %d to die with its group", child), func() bool {
				return !alive(child)
			})
		})
	}
}

// alive reports whether pid is a process that has not exited (a zombie
// waiting for its reaper has).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestNewRefusesAnEmptyCommand(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Command: "  "}, zerolog.Nop()); err == nil {
		t.Fatal("New accepted an empty command")
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"learning_rate": "LEARNING_RATE",
		"lora-r":        "LORA_R",
		"Beta":          "BETA",
		"max.steps":     "MAX_STEPS",
	} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}
