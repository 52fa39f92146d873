// Package command is the trainer's "command" executor: it runs a
// configured program (through the shell) with the job's dataset and output
// directories in its environment, streams its output to the log, and takes
// the output directory as the model once the program exits 0. It is how
// an operator trains on their own machine or cluster, with
// deploy/training/train.py or any program of their own.
package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/schemas"
)

// Defaults of Config.
const (
	DefaultShell     = "sh"
	DefaultGrace     = 10 * time.Second
	DefaultTailLines = 20
)

// Environment variables the program is given, besides the executor's own
// environment and one TWIN_HP_<NAME> per hyperparameter.
const (
	EnvDatasetDir   = "TWIN_DATASET_DIR"   // the directory holding train.jsonl and test.jsonl
	EnvOutputDir    = "TWIN_OUTPUT_DIR"    // the empty directory the model is to be written to
	EnvJobID        = "TWIN_JOB_ID"        // the job's name
	EnvTrainingKind = "TWIN_TRAINING_KIND" // sft, dpo or rerank
	EnvHyperPrefix  = "TWIN_HP_"           // + the hyperparameter's name, upper-cased, non-alphanumerics as '_'
)

// Config is the command executor's configuration.
type Config struct {
	// Command is the command line, run as `Shell -c Command` (so it may
	// hold arguments, pipes and variables). Required.
	Command string
	// Shell runs Command; default "sh".
	Shell string
	// Dir is the program's working directory; empty: twin's own.
	Dir string
	// Grace is how long a stopped job's process group has between SIGTERM
	// and SIGKILL; default 10s. A trainer that saves a checkpoint on
	// SIGTERM needs it long enough for that.
	Grace time.Duration
	// TailLines is how many of the program's last output lines a failure's
	// message carries; default 20.
	TailLines int
}

// Executor runs each job as one process group of Config.Command.
type Executor struct {
	cfg Config
	log zerolog.Logger
}

var _ trainer.Executor = (*Executor)(nil)

// New returns the executor of cfg, with its defaults filled in; it fails
// when no command is configured.
func New(cfg Config, log zerolog.Logger) (*Executor, error) {
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, errors.New("command executor: no trainer command configured")
	}
	if cfg.Shell == "" {
		cfg.Shell = DefaultShell
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.TailLines <= 0 {
		cfg.TailLines = DefaultTailLines
	}
	return &Executor{cfg: cfg, log: log.With().Str("executor", "command").Logger()}, nil
}

// Name is "command".
func (e *Executor) Name() string { return "command" }

// Run runs the command for job and blocks until it has ended. It exits 0
// with files in job.OutputDir: the result is file://OutputDir. It exits
// otherwise, or writes nothing: an error matching trainer.ErrJobFailed
// with the exit status and the last lines of output. ctx is cancelled:
// the group gets SIGTERM, then SIGKILL after Config.Grace, and the error
// matches trainer.ErrJobStopped. Every process of the group left when
// the program itself exits is killed, so nothing outlives its job.
//
// A command cannot be followed again once twin lost it: running Run again
// starts the program afresh (OutputDir is the trainer's to empty).
func (e *Executor) Run(ctx context.Context, job trainer.Job, progress trainer.Progress) (trainer.Result, error) {
	if job.OutputDir == "" {
		return trainer.Result{}, fmt.Errorf("job %s: no output directory", job.ID)
	}
	if err := os.MkdirAll(job.OutputDir, 0o755); err != nil {
		return trainer.Result{}, fmt.Errorf("job %s: %w", job.ID, err)
	}
	log := e.log.With().Str("job", job.ID).Str("kind", job.Kind).Logger()

	cmd := exec.Command(e.cfg.Shell, "-c", e.cfg.Command)
	cmd.Dir = e.cfg.Dir
	cmd.Env = append(os.Environ(), Environment(job)...)
	// Its own group, so that a stop reaches the trainer's children too
	// (data loader workers, a launcher's ranks), not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	out := newTail(e.cfg.TailLines)
	// One pipe of our own for both streams: their lines stay in the order
	// the program wrote them (an error on stderr after the last progress
	// line on stdout stays last), and exec hands the program the file
	// descriptor rather than copying, so Wait does not wait on a
	// grandchild that keeps the pipe open.
	outR, outW, err := os.Pipe()
	if err != nil {
		return trainer.Result{}, fmt.Errorf("job %s: %w", job.ID, err)
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	startErr := cmd.Start()
	outW.Close()
	if startErr != nil {
		outR.Close()
		return trainer.Result{}, fmt.Errorf("job %s: start %q: %w", job.ID, e.cfg.Command, startErr)
	}
	pgid := cmd.Process.Pid
	started := time.Now()
	log.Info().Int("pid", pgid).Str("command", e.cfg.Command).Msg("training command started")
	if progress != nil {
		progress(schemas.StateRunning, fmt.Sprintf("command started (pid %d)", pgid), started)
	}

	drained := make(chan struct{})
	go func() { defer close(drained); out.stream(outR, log) }()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var waitErr error
	stopped := false
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		stopped = true
		log.Info().Dur("grace", e.cfg.Grace).Msg("stopping the training command: SIGTERM to its process group")
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := time.NewTimer(e.cfg.Grace)
		select {
		case waitErr = <-exited:
			grace.Stop()
		case <-grace.C:
			log.Warn().Msg("the training command outlived its grace period: SIGKILL to its process group")
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-exited
		}
	}
	// What the program left behind in its group dies with the job; this
	// also closes the pipe those processes held, which ends the reader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-drained:
	case <-time.After(e.cfg.Grace):
		// A process that left the group (setsid) still holds a pipe:
		// closing our end unblocks the reader; its output is lost.
		log.Warn().Msg("a process outside the job's group still holds its output; no longer reading it")
	}
	outR.Close()
	<-drained
	elapsed := time.Since(started)
	metrics := map[string]float64{"seconds": elapsed.Seconds()}

	if stopped {
		return trainer.Result{Metrics: metrics}, fmt.Errorf("%w: job %s: command stopped after %s (%v): %w%s",
			trainer.ErrJobStopped, job.ID, elapsed.Round(time.Millisecond), exitStatus(cmd, waitErr), context.Cause(ctx), out.suffix())
	}
	if waitErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(waitErr, &exitErr) {
			return trainer.Result{Metrics: metrics}, fmt.Errorf("job %s: wait for the command: %w", job.ID, waitErr)
		}
		return trainer.Result{Metrics: metrics}, fmt.Errorf("%w: job %s: command %v%s",
			trainer.ErrJobFailed, job.ID, exitStatus(cmd, waitErr), out.suffix())
	}
	empty, err := isEmptyDir(job.OutputDir)
	if err != nil {
		return trainer.Result{Metrics: metrics}, fmt.Errorf("job %s: read the output: %w", job.ID, err)
	}
	if empty {
		// A trainer that wrote nothing produced no model; registering an
		// empty directory would put nothing in service.
		return trainer.Result{Metrics: metrics}, fmt.Errorf("%w: job %s: command exited 0 but wrote nothing to %s%s",
			trainer.ErrJobFailed, job.ID, job.OutputDir, out.suffix())
	}
	log.Info().Dur("elapsed", elapsed).Str("output", job.OutputDir).Msg("training command succeeded")
	return trainer.Result{ArtifactURI: "file://" + job.OutputDir, Metrics: metrics}, nil
}

// Environment is what a job adds to the program's environment: the TWIN_*
// variables and one TWIN_HP_<NAME> per hyperparameter.
func Environment(job trainer.Job) []string {
	env := []string{
		EnvDatasetDir + "=" + job.DatasetDir,
		EnvOutputDir + "=" + job.OutputDir,
		EnvJobID + "=" + job.ID,
		EnvTrainingKind + "=" + job.Kind,
	}
	for name, value := range job.Hyperparameters {
		env = append(env, EnvHyperPrefix+envName(name)+"="+value)
	}
	return env
}

// envName is a hyperparameter's name as a variable name: upper case, and
// '_' for anything but letters and digits (learning-rate: LEARNING_RATE).
func envName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}

// exitStatus says how the process ended: its exit code or its signal.
func exitStatus(cmd *exec.Cmd, waitErr error) string {
	st := cmd.ProcessState
	if st == nil {
		return fmt.Sprintf("ended: %v", waitErr)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by %v", ws.Signal())
	}
	return fmt.Sprintf("exited with code %d", st.ExitCode())
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// tail keeps the last lines of the program's output for a failure's
// message.
type tail struct {
	keep int

	mu    sync.Mutex // guards lines
	lines []string
}

func newTail(keep int) *tail { return &tail{keep: keep} }

// maxLine bounds one line of output in memory: a longer one (a progress
// bar redrawn without newlines) is logged in pieces of that size.
const maxLine = 64 << 10

// splitLines is bufio.ScanLines that cuts a line at maxLine rather than
// failing on it.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	advance, token, err := bufio.ScanLines(data, atEOF)
	if advance == 0 && token == nil && err == nil && len(data) >= maxLine {
		return maxLine, data[:maxLine], nil
	}
	return advance, token, err
}

// stream logs r's lines and keeps the last ones, until r ends.
func (t *tail) stream(r io.Reader, log zerolog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	sc.Split(splitLines)
	for sc.Scan() {
		line := sc.Text()
		log.Info().Str("stream", "output").Msg(line)
		t.add(line)
	}
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.keep {
		t.lines = t.lines[len(t.lines)-t.keep:]
	}
}

// suffix is the kept lines as the end of an error message, or nothing.
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "; last output:\n" + strings.Join(t.lines, "\n")
}
