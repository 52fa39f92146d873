package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/consumers/trainer/command"
	rerankjob "github.com/twin-llm/twin/consumers/trainer/rerank"
	"github.com/twin-llm/twin/consumers/trainer/sagemaker"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/models/rerank"
	"github.com/twin-llm/twin/internal/retrieval"
	"github.com/twin-llm/twin/internal/s3export"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Executors of the LLM's training (--trainer).
const (
	trainerNone      = "none"
	trainerCommand   = "command"
	trainerSageMaker = "sagemaker"
)

// trainerFlags configure the trainer (docs/training.md).
type trainerFlags struct {
	llm            string // --trainer: none, command or sagemaker
	command        string
	commandDir     string
	grace          time.Duration
	promoteMargin  float64
	gateMinQueries int
	datasetSeed    int64

	smRole        string
	smSource      string
	smS3          string
	smImage       string
	smBaseModel   string
	smInstance    string
	smInstances   int
	smVolume      int
	smMaxRuntime  time.Duration
	smEnv         []string
	smPoll        time.Duration
	smKeepRunning bool
	smEndpoint    string
	s3Endpoint    string
}

func addTrainerFlags(fl *pflag.FlagSet, t *trainerFlags) {
	fl.StringVar(&t.llm, "trainer", trainerNone, "what trains the LLM (sft, dpo): none, command (--trainer-command) or sagemaker;\nthe reranker always trains in-process")
	fl.StringVar(&t.command, "trainer-command", "", "with --trainer command: the program, run with sh -c and TWIN_DATASET_DIR, TWIN_OUTPUT_DIR,\nTWIN_JOB_ID, TWIN_TRAINING_KIND in its environment (e.g. \"python deploy/training/train.py\")")
	fl.StringVar(&t.commandDir, "trainer-dir", "", "with --trainer command: its working directory (default: twin's)")
	fl.DurationVar(&t.grace, "trainer-grace", command.DefaultGrace, "with --trainer command: time between SIGTERM and SIGKILL when a job is stopped")
	fl.Float64Var(&t.promoteMargin, "promote-margin", trainer.DefaultMargin, "evaluation gate: how much better than the version in service a candidate must score")
	fl.IntVar(&t.gateMinQueries, "gate-min-queries", trainer.DefaultMinTestQueries, "evaluation gate: held-out queries a reranker must be judged on before it can be promoted")
	fl.Int64Var(&t.datasetSeed, "dataset-seed", 0, "the seed of the training datasets' train/test split")
	fl.StringVar(&t.smRole, "sagemaker-role", "", "with --trainer sagemaker: the IAM role ARN of the training jobs and endpoints")
	fl.StringVar(&t.smSource, "sagemaker-source", "", "with --trainer sagemaker: s3:// URI of the tar.gz of deploy/training")
	fl.StringVar(&t.smS3, "training-s3", "", "with --trainer sagemaker: s3:// prefix of the datasets (<prefix>/datasets) and models (<prefix>/models)")
	fl.StringVar(&t.smImage, "sagemaker-image", "", "with --trainer sagemaker: the training image (default: the Hugging Face PyTorch training image of the region)")
	fl.StringVar(&t.smBaseModel, "sagemaker-base-model", "", "with --trainer sagemaker: the Hugging Face model id fine-tuned by SFT")
	fl.StringVar(&t.smInstance, "sagemaker-instance", "ml.g5.2xlarge", "with --trainer sagemaker: the training instance type")
	fl.IntVar(&t.smInstances, "sagemaker-instances", 1, "with --trainer sagemaker: the training instance count")
	fl.IntVar(&t.smVolume, "sagemaker-volume", 50, "with --trainer sagemaker: GB of storage per training instance")
	fl.DurationVar(&t.smMaxRuntime, "sagemaker-max-runtime", 24*time.Hour, "with --trainer sagemaker: a job running longer is stopped")
	fl.StringSliceVar(&t.smEnv, "sagemaker-env", nil, "with --trainer sagemaker: KEY=VALUE for the training container (HF_TOKEN=...), repeatable")
	fl.DurationVar(&t.smPoll, "sagemaker-poll", 30*time.Second, "with --trainer sagemaker: interval between two looks at a job")
	fl.BoolVar(&t.smKeepRunning, "sagemaker-keep-running", true, "with --trainer sagemaker: leave a job running when twin stops (a restart follows it again)")
	fl.StringVar(&t.smEndpoint, "sagemaker-endpoint", "", "with --trainer sagemaker: the endpoint a promoted LLM version is rolled to (none: no roll-out)")
	fl.StringVar(&t.s3Endpoint, "s3-endpoint", "", "an S3-compatible store's URL instead of AWS S3 (MinIO), for datasets and training")
}

// checkTrainer refuses settings the trainer cannot work with.
func checkTrainer(f serveFlags) error {
	t := f.trainer
	if t.promoteMargin < 0 {
		return fmt.Errorf("--promote-margin %v: want 0 or more", t.promoteMargin)
	}
	if t.gateMinQueries < 1 {
		return fmt.Errorf("--gate-min-queries %d: want at least 1", t.gateMinQueries)
	}
	switch t.llm {
	case trainerNone:
	case trainerCommand:
		if strings.TrimSpace(t.command) == "" {
			return errors.New("--trainer command needs --trainer-command")
		}
	case trainerSageMaker:
		var missing []string
		for flag, v := range map[string]string{"--sagemaker-role": t.smRole, "--sagemaker-source": t.smSource, "--training-s3": t.smS3} {
			if v == "" {
				missing = append(missing, flag)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("--trainer sagemaker needs %s", strings.Join(missing, " and "))
		}
		for _, uri := range []string{t.smSource, t.smS3} {
			if _, _, err := s3export.ParseURI(uri); err != nil {
				return err
			}
		}
		if _, err := envMap(t.smEnv); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--trainer %q: want none, command or sagemaker", t.llm)
	}
	return nil
}

func envMap(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--sagemaker-env %q: want KEY=VALUE", kv)
		}
		m[k] = v
	}
	return m, nil
}

func runTrainer(ctx context.Context, s *system, log zerolog.Logger, ready func()) error {
	f := s.flags.trainer
	store, err := s.warehouse(ctx)
	if err != nil {
		return err
	}
	reg, err := s.registry(ctx)
	if err != nil {
		return err
	}
	executors, err := s.trainingExecutors(ctx, store, reg, log)
	if err != nil {
		return err
	}
	b, err := newDatasetBuilder(s, store, log)
	if err != nil {
		return err
	}
	t, err := trainer.New(trainer.Config{Executors: executors, Datasets: trainerDatasets{b: b, seed: f.datasetSeed},
		Registry: reg, Publisher: s.pub, WorkDir: filepath.Join(s.g.data, "training"),
		Gate: trainer.Gate{Margin: f.promoteMargin, MinTestQueries: f.gateMinQueries}, Registerer: s.reg, Log: log})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(executors))
	for kind, e := range executors {
		names = append(names, kind+"="+e.Name())
	}
	log.Info().Strs("executors", names).Msg("trainer")
	ready()
	return s.runtime.Run(ctx, trainer.Consumer, t.Handler(), streams.Workers(1))
}

// trainingExecutors are the executors by kind of training: the reranker's,
// always, in this process; the LLM's as --trainer says.
func (s *system) trainingExecutors(ctx context.Context, store warehouse.Store, reg *registry.Registry, log zerolog.Logger) (map[string]trainer.Executor, error) {
	f := s.flags.trainer
	judgments, ok := store.(warehouse.JudgmentStore)
	if !ok {
		return nil, fmt.Errorf("trainer: the warehouse %T keeps no judgments", store)
	}
	search, err := s.vectorsAndModels(ctx)
	if err != nil {
		return nil, err
	}
	serving, err := s.servingReranker(ctx)
	if err != nil {
		return nil, err
	}
	// The candidates the reranker learns from are the ones it will
	// rerank: the pool of the chat's and /v1/search's retrieval.
	pipeline := &retrieval.Pipeline{Search: search, Expansions: s.flags.chat.expansions}
	rr, err := rerankjob.New(rerankjob.Config{Judgments: judgments, Search: retrieval.CandidateSearch{Pipeline: pipeline},
		Serving: func() rerank.Reranker { return serving.Current() }, Depth: retrieval.DefaultCandidates, Log: log})
	if err != nil {
		return nil, err
	}
	executors := map[string]trainer.Executor{schemas.TrainingRerank: rr}
	var llm trainer.Executor
	switch f.llm {
	case trainerCommand:
		llm, err = command.New(command.Config{Command: f.command, Dir: f.commandDir, Grace: f.grace}, log)
	case trainerSageMaker:
		llm, err = s.sagemakerExecutor(reg, log)
	}
	if err != nil {
		return nil, err
	}
	if llm != nil {
		executors[schemas.TrainingSFT], executors[schemas.TrainingDPO] = llm, llm
	}
	return executors, nil
}

// sagemakerExecutor is the SageMaker executor of the flags; with
// --sagemaker-endpoint, a promoted LLM version is rolled to the endpoint.
func (s *system) sagemakerExecutor(reg *registry.Registry, log zerolog.Logger) (*sagemaker.Executor, error) {
	f := s.flags.trainer
	env, err := envMap(f.smEnv)
	if err != nil {
		return nil, err
	}
	region := s.flags.vectors.sagemakerRegion
	s3c, err := s3export.NewClient(s3export.Config{Region: region, BaseEndpoint: f.s3Endpoint, PathStyle: f.s3Endpoint != ""})
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimRight(f.smS3, "/")
	ex, err := sagemaker.New(sagemaker.Config{Region: region, RoleARN: f.smRole, SourceURI: f.smSource, Image: f.smImage,
		BaseModel: f.smBaseModel, OutputURI: prefix + "/models", InstanceType: f.smInstance, InstanceCount: int32(f.smInstances),
		VolumeGB: int32(f.smVolume), MaxRuntime: f.smMaxRuntime, Environment: env, Poll: f.smPoll,
		KeepRunningOnCancel: f.smKeepRunning, DatasetPrefix: prefix + "/datasets",
		Upload: func(ctx context.Context, dir, uri string) error { return s3export.UploadDir(ctx, s3c, dir, uri) }}, log)
	if err != nil {
		return nil, err
	}
	if f.smEndpoint != "" {
		reg.SetRollout(registry.LLM, func(ctx context.Context, m warehouse.ModelRecord) (string, error) {
			if _, err := ex.Roll(ctx, sagemaker.Deployment{Endpoint: f.smEndpoint, Name: m.JobID, ArtifactURI: m.ArtifactURI}); err != nil {
				return "", err
			}
			return f.smEndpoint, nil
		})
	}
	return ex, nil
}
