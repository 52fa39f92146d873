package sagemaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/consumers/trainer/command"
	"github.com/twin-llm/twin/internal/awsclient/sagemakertest"
	"github.com/twin-llm/twin/schemas"
)

// program is deploy/training/train.py, the program the executors run.
var program = filepath.Join("..", "..", "..", "deploy", "training", "train.py")

// python returns python3, or skips the test where there is none. The
// program's ML stack (torch, TRL, PEFT) is not needed: these tests run
// what it does before it loads a model.
func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: the training program is not checked")
	}
	return p
}

// runProgram runs the program with args and env, and returns its output
// and exit code.
func runProgram(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(python(t), append([]string{program}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// No compiled files left in the source tree.
	cmd.Env = append(cmd.Env, "PYTHONDONTWRITEBYTECODE=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return out.String(), errOut.String(), exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

func TestTrainingProgramCompiles(t *testing.T) {
	t.Parallel()
	// What python3 -m py_compile checks, with the compiled file kept out
	// of the source tree.
	cmd := exec.Command(python(t), "-c", "import sys, py_compile; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
		program, filepath.Join(t.TempDir(), "train.pyc"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("py_compile %s: %v\n%s", program, err, out)
	}
}

// sameValue tells whether the executor's hyperparameter (a string) and
// the program's (a JSON value) are the same setting.
func sameValue(goValue string, pyValue any) bool {
	switch v := pyValue.(type) {
	case bool:
		b, err := strconv.ParseBool(goValue)
		return err == nil && b == v
	case float64:
		f, err := strconv.ParseFloat(goValue, 64)
		return err == nil && f == v
	case string:
		return v == goValue
	}
	return false
}

func TestTrainingProgramHasTheExecutorsDefaults(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{schemas.TrainingSFT, schemas.TrainingDPO} {
		stdout, stderr, code := runProgram(t, nil, "--print-defaults", kind)
		if code != 0 {
			t.Fatalf("--print-defaults %s: exit %d: %s", kind, code, stderr)
		}
		var py map[string]any
		if err := json.Unmarshal([]byte(stdout), &py); err != nil {
			t.Fatalf("--print-defaults %s: %v: %q", kind, err, stdout)
		}
		goDefaults := DefaultHyperparameters(kind)
		if len(py) != len(goDefaults) {
			t.Errorf("%s: the program has %d defaults, the executor %d", kind, len(py), len(goDefaults))
		}
		for name, want := range goDefaults {
			if !sameValue(want, py[name]) {
				t.Errorf("%s %s: the executor's default is %q, the program's %v", kind, name, want, py[name])
			}
		}
	}
}

// summary is what `train.py --check` prints.
type summary struct {
	Where           string         `json:"where"`
	Kind            string         `json:"kind"`
	Model           string         `json:"model"`
	TrainExamples   int            `json:"train_examples"`
	TestExamples    int            `json:"test_examples"`
	Hyperparameters map[string]any `json:"hyperparameters"`
	Output          string         `json:"output"`
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func parseSummary(t *testing.T, stdout string) summary {
	t.Helper()
	var s summary
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &s); err != nil {
		t.Fatalf("the program's summary: %v: %q", err, stdout)
	}
	return s
}

// The program reads what the command executor gives it: the dataset
// directory, the kind and the hyperparameters in TWIN_* variables.
func TestTrainingProgramReadsTheCommandExecutorsEnvironment(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "train.jsonl"),
		`{"instruction":"What does twin do?","output":"It writes like its author."}`+"\n"+
			`{"messages":[{"role":"system","content":"You are the author."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}`+"\n")
	writeFile(t, filepath.Join(data, "test.jsonl"), `{"instruction":"Why?","output":"Because."}`+"\n")
	job := trainer.Job{
		ID: "twin-sft-local", Kind: schemas.TrainingSFT, DatasetDir: data, OutputDir: t.TempDir(),
		Hyperparameters: map[string]string{"lora_r": "16", "load_in_4bit": "true", "model_id": "Qwen/Qwen2.5-0.5B"},
	}
	stdout, stderr, code := runProgram(t, command.Environment(job), "--check", "--sagemaker-root", t.TempDir())
	if code != 0 {
		t.Fatalf("--check: exit %d: %s", code, stderr)
	}
	s := parseSummary(t, stdout)
	if s.Where != "local" || s.Kind != "sft" || s.TrainExamples != 2 || s.TestExamples != 1 || s.Output != job.OutputDir || s.Model != "Qwen/Qwen2.5-0.5B" {
		t.Errorf("summary %+v", s)
	}
	if s.Hyperparameters["lora_r"] != 16.0 || s.Hyperparameters["load_in_4bit"] != true || s.Hyperparameters["lora_alpha"] != 32.0 {
		t.Errorf("hyperparameters %v: want lora_r 16 and QLoRA from the job, lora_alpha 32 by default", s.Hyperparameters)
	}
}

// The program reads what the sagemaker executor sends: the hyperparameters
// of the CreateTrainingJob request, as SageMaker writes them to
// hyperparameters.json, and the channels' directories.
func TestTrainingProgramReadsTheSageMakerJobTheExecutorCreates(t *testing.T) {
	t.Parallel()
	python(t)
	fake := sagemakertest.NewControlPlane()
	e := newTestExecutor(t, fake, nil)
	job := testJob("twin-dpo-sm", schemas.TrainingDPO)
	job.Hyperparameters = map[string]string{"beta": "0.1"}
	if _, err := e.Run(context.Background(), job, nil); err != nil {
		t.Fatal(err)
	}
	fj, _ := fake.Job(job.ID)
	hp, err := json.Marshal(fj.Request["HyperParameters"])
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "input", "config", "hyperparameters.json"), string(hp))
	writeFile(t, filepath.Join(root, "input", "data", "train", "train.jsonl"),
		`{"prompt":"What is twin?","chosen":"A twin of the author.","rejected":"I don't know."}`+"\n")
	stdout, stderr, code := runProgram(t, nil, "--check", "--sagemaker-root", root)
	if code != 0 {
		t.Fatalf("--check: exit %d: %s", code, stderr)
	}
	s := parseSummary(t, stdout)
	if s.Where != "sagemaker" || s.Kind != "dpo" || s.TrainExamples != 1 || s.TestExamples != 0 || s.Output != filepath.Join(root, "model") || s.Model != DefaultBaseModel {
		t.Errorf("summary %+v", s)
	}
	if s.Hyperparameters["beta"] != 0.1 || s.Hyperparameters["learning_rate"] != 2e-6 {
		t.Errorf("hyperparameters %v: want the job's beta 0.1 and DPO's learning rate", s.Hyperparameters)
	}
	if _, ok := s.Hyperparameters["sagemaker_program"]; ok {
		t.Errorf("the container's own hyperparameters reached the training: %v", s.Hyperparameters)
	}
}

func TestTrainingProgramRefusesBadData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, kind, train, want string
	}{
		{"not JSON", "sft", "{\"instruction\":\"a\",\"output\":\"b\"}\n{oops\n", "train.jsonl:2: not JSON"},
		{"an SFT row without output", "sft", `{"instruction":"a"}` + "\n", `"instruction" and "output"`},
		{"messages not ending with the assistant", "sft", `{"messages":[{"role":"user","content":"a"}]}` + "\n", "the last message must be the assistant's"},
		{"a DPO row without rejected", "dpo", `{"prompt":"p","chosen":"c"}` + "\n", `"prompt", "chosen" and "rejected"`},
		{"chosen is rejected", "dpo", `{"prompt":"p","chosen":"c","rejected":"c"}` + "\n", "the same text"},
		{"no examples", "sft", "\n", "no sft examples"},
		{"a kind it does not train", "rerank", `{"instruction":"a","output":"b"}` + "\n", "trains sft and dpo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			writeFile(t, filepath.Join(data, "train.jsonl"), tc.train)
			job := trainer.Job{ID: "bad", Kind: tc.kind, DatasetDir: data, OutputDir: t.TempDir()}
			_, stderr, code := runProgram(t, command.Environment(job), "--check", "--sagemaker-root", t.TempDir())
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.want)
			}
		})
	}
}
