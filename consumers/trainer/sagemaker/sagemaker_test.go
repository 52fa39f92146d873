package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/awsclient/sagemakertest"
	"github.com/twin-llm/twin/internal/s3export"
	"github.com/twin-llm/twin/schemas"
)

const (
	testRole   = "arn:aws:iam::123456789012:role/twin-training"
	testSource = "s3://twin-training/source/sourcedir.tar.gz"
	testOutput = "s3://twin-training/models"
)

// newTestExecutor is an executor whose real SageMaker client talks to
// fake, polling every millisecond.
func newTestExecutor(t *testing.T, fake *sagemakertest.ControlPlane, mutate func(*Config)) *Executor {
	t.Helper()
	url, awsCfg := sagemakertest.ServeAPI(t, fake, "eu-west-1")
	cfg := Config{
		AWS:          awsCfg,
		BaseEndpoint: url,
		MaxAttempts:  1,
		RoleARN:      testRole,
		SourceURI:    testSource,
		OutputURI:    testOutput,
		Poll:         time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// progressLog records what an executor reports, and signals each report.
type progressLog struct {
	mu      sync.Mutex
	reports []string
	seen    chan string
}

func newProgressLog() *progressLog { return &progressLog{seen: make(chan string, 100)} }

func (p *progressLog) record(state, message string, _ time.Time) {
	p.mu.Lock()
	p.reports = append(p.reports, state+" "+message)
	p.mu.Unlock()
	select {
	case p.seen <- state + " " + message:
	default:
	}
}

func (p *progressLog) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reports)
}

// waitFor waits until a report holding want arrives.
func (p *progressLog) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-p.seen:
			if strings.Contains(r, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no progress report with %q; got %q", want, p.all())
		}
	}
}

func testJob(id, kind string) trainer.Job {
	return trainer.Job{
		ID:         id,
		Kind:       kind,
		TriggerID:  "trigger-" + id,
		DatasetDir: "/unused",
		DatasetURI: "s3://twin-training/datasets/" + id + "/",
	}
}

// get walks a decoded JSON body along keys.
func get(body map[string]any, keys ...string) any {
	var v any = body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestCompletedJobReturnsItsModelAfterTheRequestSageMakerNeeds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind      string
		overrides map[string]string
		want      map[string]string
		// model is the channel of the model the job starts from.
		model string
	}{
		{
			kind: schemas.TrainingSFT,
			want: map[string]string{
				"lora_r": "32", "lora_alpha": "32", "lora_dropout": "0", "learning_rate": "3e-4",
				"num_train_epochs": "3", "per_device_train_batch_size": "2", "gradient_accumulation_steps": "8",
				"training_kind": "sft", "model_id": DefaultBaseModel,
			},
		},
		{
			kind:      schemas.TrainingDPO,
			overrides: map[string]string{BaseModelURI: testOutput + "/twin-sft-0001/output/model.tar.gz", "load_in_4bit": "true"},
			want: map[string]string{
				"beta": "0.5", "learning_rate": "2e-6", "num_train_epochs": "1",
				"per_device_train_batch_size": "2", "gradient_accumulation_steps": "8",
				"training_kind": "dpo", "load_in_4bit": "true",
			},
			model: "model=" + testOutput + "/twin-sft-0001/output/model.tar.gz S3Prefix FullyReplicated",
		},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			fake := sagemakertest.NewControlPlane()
			fake.Script = func(string) []sagemakertest.JobStep {
				return sagemakertest.CompleteAfter(2, map[string]float64{"loss": 0.5, "eval_loss": 0.75})
			}
			e := newTestExecutor(t, fake, func(c *Config) { c.Environment = map[string]string{"HF_TOKEN": "hf_test"} })
			job := testJob("twin-"+tc.kind+"-0001", tc.kind)
			job.Hyperparameters = tc.overrides
			progress := newProgressLog()
			res, err := e.Run(context.Background(), job, progress.record)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if want := testOutput + "/" + job.ID + "/output/model.tar.gz"; res.ArtifactURI != want {
				t.Errorf("artifact %q, want %q", res.ArtifactURI, want)
			}
			if res.ExternalID != job.ID {
				t.Errorf("external id %q, want %q", res.ExternalID, job.ID)
			}
			for name, want := range map[string]float64{"loss": 0.5, "eval_loss": 0.75, "billable_seconds": 1260, "training_seconds": 1260} {
				if res.Metrics[name] != want {
					t.Errorf("metric %s = %v, want %v (metrics %v)", name, res.Metrics[name], want, res.Metrics)
				}
			}
			reports := progress.all()
			wantReports := []string{
				schemas.StatePending + " SageMaker training job " + job.ID + " created",
				schemas.StatePending + " SageMaker: InProgress/Starting: Launching requested ML instances",
				schemas.StateRunning + " SageMaker: InProgress/Training: Training image download completed. Training in progress.",
				schemas.StateRunning + " SageMaker: InProgress/Uploading: Uploading generated training model",
			}
			if !slices.Equal(reports, wantReports) {
				t.Errorf("progress\n%q\nwant one report per status change\n%q", reports, wantReports)
			}

			fj, ok := fake.Job(job.ID)
			if !ok {
				t.Fatal("no job was created")
			}
			body := fj.Request
			for _, c := range []struct {
				path []string
				want any
			}{
				{[]string{"RoleArn"}, testRole},
				{[]string{"AlgorithmSpecification", "TrainingImage"}, "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"},
				{[]string{"AlgorithmSpecification", "TrainingInputMode"}, "File"},
				{[]string{"OutputDataConfig", "S3OutputPath"}, testOutput},
				{[]string{"ResourceConfig", "InstanceType"}, "ml.g5.2xlarge"},
				{[]string{"ResourceConfig", "InstanceCount"}, 1.0},
				{[]string{"ResourceConfig", "VolumeSizeInGB"}, 50.0},
				{[]string{"StoppingCondition", "MaxRuntimeInSeconds"}, 86400.0},
				{[]string{"Environment", "HF_TOKEN"}, "hf_test"},
				{[]string{"HyperParameters", "sagemaker_program"}, "train.py"},
				{[]string{"HyperParameters", "sagemaker_submit_directory"}, testSource},
				{[]string{"HyperParameters", "sagemaker_region"}, "eu-west-1"},
			} {
				if got := get(body, c.path...); got != c.want {
					t.Errorf("%s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
				}
			}
			for k, want := range tc.want {
				if got := get(body, "HyperParameters", k); got != want {
					t.Errorf("hyperparameter %s = %#v, want %q", k, got, want)
				}
			}
			channels, _ := body["InputDataConfig"].([]any)
			var got []string
			for _, c := range channels {
				m, _ := c.(map[string]any)
				got = append(got, fmt.Sprintf("%s=%s %s %s", m["ChannelName"],
					get(m, "DataSource", "S3DataSource", "S3Uri"),
					get(m, "DataSource", "S3DataSource", "S3DataType"),
					get(m, "DataSource", "S3DataSource", "S3DataDistributionType")))
			}
			want := []string{
				"train=s3://twin-training/datasets/" + job.ID + "/train.jsonl S3Prefix FullyReplicated",
				"test=s3://twin-training/datasets/" + job.ID + "/test.jsonl S3Prefix FullyReplicated",
			}
			if tc.model != "" {
				want = append(want, tc.model)
			}
			if !slices.Equal(got, want) {
				t.Errorf("channels %q, want %q", got, want)
			}
		})
	}
}

func TestFailedAndStoppedJobsEndWithoutAModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script []sagemakertest.JobStep
		want   error
		reason string
	}{
		{
			name:   "failed",
			script: sagemakertest.FailAfterStart("AlgorithmError: CUDA out of memory. Tried to allocate 2.00 GiB"),
			want:   trainer.ErrJobFailed,
			reason: "AlgorithmError: CUDA out of memory",
		},
		{
			name: "stopped from outside",
			script: append(sagemakertest.RunForever(),
				sagemakertest.JobStep{Status: "Stopping", Secondary: "Stopping"},
				sagemakertest.JobStep{Status: "Stopped", Secondary: "MaxRuntimeExceeded"}),
			want:   trainer.ErrJobStopped,
			reason: "MaxRuntimeExceeded",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := sagemakertest.NewControlPlane()
			fake.Script = func(string) []sagemakertest.JobStep { return tc.script }
			e := newTestExecutor(t, fake, nil)
			res, err := e.Run(context.Background(), testJob("twin-sft-0002", schemas.TrainingSFT), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run: %v; want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q lacks SageMaker's reason %q", err, tc.reason)
			}
			if res.ArtifactURI != "" {
				t.Errorf("artifact %q from a job that ended without a model", res.ArtifactURI)
			}
			if res.Metrics["billable_seconds"] <= 0 {
				t.Errorf("metrics %v: want the seconds billed", res.Metrics)
			}
		})
	}
}

func TestCancelStopsTheTrainingJob(t *testing.T) {
	t.Parallel()
	fake := sagemakertest.NewControlPlane()
	fake.Script = func(string) []sagemakertest.JobStep { return sagemakertest.RunForever() }
	e := newTestExecutor(t, fake, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := newProgressLog()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, testJob("twin-dpo-0003", schemas.TrainingDPO), progress.record)
		done <- err
	}()
	progress.waitFor(t, "InProgress/Training")
	cancel()
	err := <-done
	if !errors.Is(err, trainer.ErrJobStopped) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v; want ErrJobStopped and the cancel", err)
	}
	fj, _ := fake.Job("twin-dpo-0003")
	if !fj.StopRequested {
		t.Errorf("the job was not stopped on SageMaker; calls %q", fake.Calls())
	}
}

func TestRunAgainFollowsTheJobRatherThanStartingASecond(t *testing.T) {
	t.Parallel()
	fake := sagemakertest.NewControlPlane()
	fake.Script = func(string) []sagemakertest.JobStep { return sagemakertest.CompleteAfter(50, nil) }
	e := newTestExecutor(t, fake, func(c *Config) { c.KeepRunningOnCancel = true })
	job := testJob("twin-sft-0004", schemas.TrainingSFT)

	// twin shuts down while the job trains: it goes on.
	ctx, cancel := context.WithCancel(context.Background())
	progress := newProgressLog()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, job, progress.record)
		done <- err
	}()
	progress.waitFor(t, "InProgress/Training")
	cancel()
	err := <-done
	if err == nil || errors.Is(err, trainer.ErrJobStopped) || errors.Is(err, trainer.ErrJobFailed) {
		t.Fatalf("Run: %v; want an error that leaves the job to be followed again", err)
	}
	if fj, _ := fake.Job(job.ID); fj.StopRequested {
		t.Fatal("the job was stopped though the executor keeps jobs running on cancel")
	}

	// twin is back: the same job is followed to its end.
	progress = newProgressLog()
	res, err := e.Run(context.Background(), job, progress.record)
	if err != nil {
		t.Fatalf("Run again: %v", err)
	}
	if !strings.HasSuffix(res.ArtifactURI, "/"+job.ID+"/output/model.tar.gz") {
		t.Errorf("artifact %q", res.ArtifactURI)
	}
	fj, _ := fake.Job(job.ID)
	if fj.Creates != 2 {
		t.Errorf("CreateTrainingJob was called %d times for the job, want 2 (the second refused)", fj.Creates)
	}
	if r := progress.all(); len(r) == 0 || !strings.Contains(r[0], "following the SageMaker training job") {
		t.Errorf("progress of the second Run %q: want it to say it follows the job", r)
	}
}

func TestRefusedJobsFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		job   trainer.Job
		calls int
	}{
		{name: "a kind it does not train", job: testJob("twin-rerank-1", schemas.TrainingRerank)},
		{name: "a name SageMaker refuses", job: testJob("twin_sft_1", schemas.TrainingSFT)},
		{name: "no dataset in S3", job: func() trainer.Job { j := testJob("twin-sft-1", schemas.TrainingSFT); j.DatasetURI = ""; return j }()},
		{
			name: "a hyperparameter SageMaker refuses",
			job: func() trainer.Job {
				j := testJob("twin-sft-2", schemas.TrainingSFT)
				j.Hyperparameters = map[string]string{"chat_template": strings.Repeat("x", 3000)}
				return j
			}(),
			calls: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := sagemakertest.NewControlPlane()
			e := newTestExecutor(t, fake, nil)
			_, err := e.Run(context.Background(), tc.job, nil)
			if !errors.Is(err, trainer.ErrJobFailed) {
				t.Fatalf("Run: %v; want ErrJobFailed", err)
			}
			if got := len(fake.Calls()); got != tc.calls {
				t.Errorf("%d calls to SageMaker (%q), want %d", got, fake.Calls(), tc.calls)
			}
		})
	}
}

func TestDatasetIsUploadedWhereTheChannelsReadIt(t *testing.T) {
	t.Parallel()
	// An in-process S3-compatible store, reached through the real client.
	backend := s3mem.New()
	if err := backend.CreateBucket("twin-training"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s3c, err := s3export.NewClient(s3export.Config{
		BaseEndpoint: srv.URL, PathStyle: true,
		AWS: &aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")},
	})
	if err != nil {
		t.Fatal(err)
	}

	fake := sagemakertest.NewControlPlane()
	e := newTestExecutor(t, fake, func(c *Config) {
		c.DatasetPrefix = "s3://twin-training/datasets/"
		c.Upload = func(ctx context.Context, dir, uri string) error { return s3export.UploadDir(ctx, s3c, dir, uri) }
	})
	job := testJob("twin-sft-0005", schemas.TrainingSFT)
	job.DatasetURI, job.DatasetDir = "", t.TempDir()
	files := map[string]string{
		"train.jsonl": `{"instruction":"q1","output":"a1"}` + "\n",
		"test.jsonl":  `{"instruction":"q2","output":"a2"}` + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(job.DatasetDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Run(context.Background(), job, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Each channel names an object the upload put there, holding its split.
	fj, _ := fake.Job(job.ID)
	channels, _ := fj.Request["InputDataConfig"].([]any)
	if len(channels) != 2 {
		t.Fatalf("channels %v", channels)
	}
	for _, c := range channels {
		m, _ := c.(map[string]any)
		uri, _ := get(m, "DataSource", "S3DataSource", "S3Uri").(string)
		bucket, key, err := s3export.ParseURI(uri)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("channel %v reads %s, which the upload did not write: %v", m["ChannelName"], uri, err)
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if want := files[m["ChannelName"].(string)+".jsonl"]; string(body) != want {
			t.Errorf("channel %v reads %q, want %q", m["ChannelName"], body, want)
		}
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	t.Parallel()
	base := Config{RoleARN: testRole, SourceURI: testSource, OutputURI: testOutput, Region: "eu-west-1"}
	for name, mutate := range map[string]func(*Config){
		"no role":                   func(c *Config) { c.RoleARN = "" },
		"no source":                 func(c *Config) { c.SourceURI = "" },
		"no output":                 func(c *Config) { c.OutputURI = "" },
		"output not in S3":          func(c *Config) { c.OutputURI = "/tmp/models" },
		"a prefix and no uploader":  func(c *Config) { c.DatasetPrefix = "s3://b/p" },
		"an uploader and no prefix": func(c *Config) { c.Upload = func(context.Context, string, string) error { return nil } },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := New(cfg, zerolog.Nop()); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New: %v; want ErrConfig", name, err)
		}
	}
}

func TestRollPutsTheEndpointOnTheModelAndRestoreBringsTheOldOneBack(t *testing.T) {
	t.Parallel()
	fake := sagemakertest.NewControlPlane()
	fake.FailModel = func(_, data string) string {
		if strings.Contains(data, "broken") {
			return "The primary container for production variant AllTraffic did not pass the ping health check."
		}
		return ""
	}
	e := newTestExecutor(t, fake, nil)
	ctx := context.Background()
	deploy := func(name string) Deployment {
		return Deployment{Endpoint: "twin-llm", Name: name, ArtifactURI: testOutput + "/" + name + "/output/model.tar.gz"}
	}

	// No endpoint yet: it is created on the first model.
	rolled, err := e.Roll(ctx, deploy("twin-sft-v1"))
	if err != nil {
		t.Fatalf("Roll v1: %v", err)
	}
	if !rolled.Created || rolled.Previous != "" || rolled.Config != "twin-sft-v1" {
		t.Errorf("Roll v1: %+v; want the endpoint created on twin-sft-v1", rolled)
	}
	if cfg, status := fake.Serving("twin-llm"); cfg != "twin-sft-v1" || status != "InService" {
		t.Fatalf("the endpoint serves %q (%s), want twin-sft-v1 in service", cfg, status)
	}
	model, _ := fake.Model("twin-sft-v1")
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"ExecutionRoleArn"}, testRole},
		{[]string{"PrimaryContainer", "Image"}, DefaultServingImage("eu-west-1")},
		{[]string{"PrimaryContainer", "ModelDataUrl"}, testOutput + "/twin-sft-v1/output/model.tar.gz"},
		{[]string{"PrimaryContainer", "Environment", "HF_MODEL_ID"}, "/opt/ml/model"},
	} {
		if got := get(model, c.path...); got != c.want {
			t.Errorf("model %s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
		}
	}
	config, _ := fake.EndpointConfig("twin-sft-v1")
	variants, _ := config["ProductionVariants"].([]any)
	if len(variants) != 1 || get(variants[0].(map[string]any), "ModelName") != "twin-sft-v1" || get(variants[0].(map[string]any), "InstanceType") != "ml.g5.2xlarge" {
		t.Errorf("endpoint configuration variants %v", variants)
	}

	// A better model: the endpoint is updated, and says what it served.
	rolled, err = e.Roll(ctx, deploy("twin-dpo-v2"))
	if err != nil {
		t.Fatalf("Roll v2: %v", err)
	}
	if rolled.Created || rolled.Previous != "twin-sft-v1" {
		t.Errorf("Roll v2: %+v; want an update from twin-sft-v1", rolled)
	}
	if cfg, _ := fake.Serving("twin-llm"); cfg != "twin-dpo-v2" {
		t.Errorf("the endpoint serves %q, want twin-dpo-v2", cfg)
	}
	// Rolling the same version again is no change and no error.
	if again, err := e.Roll(ctx, deploy("twin-dpo-v2")); err != nil || again.Created {
		t.Errorf("Roll v2 again: %+v, %v", again, err)
	}

	// A model that cannot serve: SageMaker rolls the update back.
	_, err = e.Roll(ctx, deploy("twin-dpo-broken"))
	if !errors.Is(err, ErrEndpointFailed) || !strings.Contains(err.Error(), "ping health check") {
		t.Fatalf("Roll of a broken model: %v; want ErrEndpointFailed with SageMaker's reason", err)
	}
	if cfg, status := fake.Serving("twin-llm"); cfg != "twin-dpo-v2" || status != "InService" {
		t.Errorf("after a failed update the endpoint serves %q (%s), want twin-dpo-v2 in service", cfg, status)
	}

	// The way back.
	if err := e.Restore(ctx, "twin-llm", rolled.Previous); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if cfg, _ := fake.Serving("twin-llm"); cfg != "twin-sft-v1" {
		t.Errorf("after Restore the endpoint serves %q, want twin-sft-v1", cfg)
	}
}

func TestRollOfAModelThatCannotServeANewEndpointFails(t *testing.T) {
	t.Parallel()
	fake := sagemakertest.NewControlPlane()
	fake.FailModel = func(string, string) string { return "CannotStartContainerError" }
	e := newTestExecutor(t, fake, nil)
	_, err := e.Roll(context.Background(), Deployment{Endpoint: "twin-llm", Name: "twin-sft-v1", ArtifactURI: testOutput + "/m.tar.gz"})
	if !errors.Is(err, ErrEndpointFailed) || !strings.Contains(err.Error(), "CannotStartContainerError") {
		t.Fatalf("Roll: %v; want ErrEndpointFailed with the reason", err)
	}
	if _, status := fake.Serving("twin-llm"); status != "Failed" {
		t.Errorf("endpoint status %q, want Failed", status)
	}
}
