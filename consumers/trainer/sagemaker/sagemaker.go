// Package sagemaker is the trainer's "sagemaker" executor: it fine-tunes
// the LLM (SFT with LoRA or QLoRA, then DPO) as a SageMaker training job
// in the Hugging Face training container, running deploy/training/train.py
// on the dataset exported to S3, follows the job until it is final, and
// rolls a SageMaker endpoint to the model it produced when the evaluation
// gate lets it (Roll, Restore).
package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/consumers/trainer"
	"github.com/twin-llm/twin/internal/awsclient"
	"github.com/twin-llm/twin/schemas"
)

// Defaults of Config.
const (
	DefaultEntryPoint    = "train.py"
	DefaultBaseModel     = "meta-llama/Llama-3.1-8B"
	DefaultInstanceType  = "ml.g5.2xlarge"
	DefaultInstanceCount = 1
	DefaultVolumeGB      = 50
	DefaultMaxRuntime    = 24 * time.Hour
	DefaultPoll          = 30 * time.Second
	DefaultMaxAttempts   = 5
)

// dlcAccount is the AWS account that publishes the Deep Learning
// Containers in most regions (a few regions, such as the opt-in ones,
// publish them from another: set Config.Image there).
const dlcAccount = "763104351884"

// DefaultImage is the Hugging Face PyTorch training container of region:
// 763104351884.dkr.ecr.<region>.amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04.
// train.py's requirements.txt brings newer TRL, PEFT and Transformers
// when the job starts.
func DefaultImage(region string) string {
	return dlcAccount + ".dkr.ecr." + region + ".amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
}

// Config is the sagemaker executor's configuration.
type Config struct {
	// Region is the AWS region of the jobs; empty: the AWS
	// configuration's (AWS_REGION, the shared config file).
	Region string
	// AWS is the SDK configuration; nil: the default chain.
	AWS *aws.Config
	// BaseEndpoint replaces the SageMaker API's URL (a VPC endpoint, or
	// a test server).
	BaseEndpoint string
	// MaxAttempts is how many times the SDK tries a call (throttling and
	// 5xx are retried with backoff); default 5.
	MaxAttempts int

	// RoleARN is the IAM role the jobs and endpoints run as: it must read
	// the dataset and source, and write OutputURI. Required.
	RoleARN string
	// Image is the training container; default DefaultImage(Region).
	Image string
	// SourceURI is the s3:// URI of a tar.gz of deploy/training (train.py
	// and requirements.txt at its root), which the container unpacks and
	// runs. Required.
	SourceURI string
	// EntryPoint is the program in SourceURI the container runs; default
	// "train.py".
	EntryPoint string
	// BaseModel is the Hugging Face model id fine-tuned by SFT (the
	// hyperparameter model_id); default meta-llama/Llama-3.1-8B. A DPO
	// job should name the SFT model's merged weights through its own
	// model_id hyperparameter.
	BaseModel string
	// OutputURI is the s3:// prefix SageMaker writes each job's
	// model.tar.gz under (<OutputURI>/<job>/output/model.tar.gz).
	// Required.
	OutputURI string
	// InstanceType and InstanceCount are the training machines; default
	// one ml.g5.2xlarge (one A10G, 24 GiB: LoRA on an 8B model in bf16,
	// or QLoRA with room to spare).
	InstanceType  string
	InstanceCount int32
	// VolumeGB is each instance's storage for the base model, the data
	// and the checkpoints; default 50.
	VolumeGB int32
	// MaxRuntime stops a job that runs longer; default 24h.
	MaxRuntime time.Duration
	// Environment is the container's environment (HF_TOKEN for a gated
	// base model, ...).
	Environment map[string]string
	// Poll is the interval between two DescribeTrainingJob calls; default
	// 30s.
	Poll time.Duration
	// KeepRunningOnCancel leaves the job running when Run's context is
	// cancelled (twin shutting down): Run returns a plain error and a
	// later Run follows the job again. Default false: a cancel stops the
	// job.
	KeepRunningOnCancel bool

	// DatasetPrefix and Upload put a job's dataset in S3 when the trainer
	// has not (the job's DatasetURI is empty): Upload(ctx, DatasetDir,
	// DatasetPrefix/<job>) runs before the job is created.
	// s3export.UploadDir is an Upload. Both empty: a job needs its
	// DatasetURI.
	DatasetPrefix string
	Upload        func(ctx context.Context, dir, uri string) error
}

// Executor runs training jobs on SageMaker.
type Executor struct {
	cfg    Config
	client *sagemaker.Client
	log    zerolog.Logger
}

var _ trainer.Executor = (*Executor)(nil)

// ErrConfig is a configuration the executor cannot run with.
var ErrConfig = errors.New("sagemaker executor: invalid configuration")

// New returns the executor of cfg, with its defaults filled in. It fails
// when a required setting is missing or the AWS configuration cannot be
// loaded; credentials are resolved, and checked, on the first call.
func New(cfg Config, log zerolog.Logger) (*Executor, error) {
	for _, req := range []struct{ name, value string }{
		{"role ARN", cfg.RoleARN},
		{"training source (s3:// URI of the training program's tar.gz)", cfg.SourceURI},
		{"output (s3:// prefix)", cfg.OutputURI},
	} {
		if req.value == "" {
			return nil, fmt.Errorf("%w: no %s", ErrConfig, req.name)
		}
	}
	for _, uri := range []string{cfg.SourceURI, cfg.OutputURI, cfg.DatasetPrefix} {
		if uri != "" && !strings.HasPrefix(uri, "s3://") {
			return nil, fmt.Errorf("%w: %q is not an s3:// URI", ErrConfig, uri)
		}
	}
	if (cfg.DatasetPrefix == "") != (cfg.Upload == nil) {
		return nil, fmt.Errorf("%w: a dataset prefix needs an uploader, and an uploader a prefix", ErrConfig)
	}
	awsCfg, err := awsclient.Load(cfg.Region, cfg.AWS)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = awsCfg.Region
	}
	if cfg.Image == "" {
		if cfg.Region == "" {
			return nil, fmt.Errorf("%w: no region to name the training image in; set the region or the image", ErrConfig)
		}
		cfg.Image = DefaultImage(cfg.Region)
	}
	if cfg.EntryPoint == "" {
		cfg.EntryPoint = DefaultEntryPoint
	}
	if cfg.BaseModel == "" {
		cfg.BaseModel = DefaultBaseModel
	}
	if cfg.InstanceType == "" {
		cfg.InstanceType = DefaultInstanceType
	}
	if cfg.InstanceCount <= 0 {
		cfg.InstanceCount = DefaultInstanceCount
	}
	if cfg.VolumeGB <= 0 {
		cfg.VolumeGB = DefaultVolumeGB
	}
	if cfg.MaxRuntime <= 0 {
		cfg.MaxRuntime = DefaultMaxRuntime
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	client := sagemaker.NewFromConfig(awsCfg, func(o *sagemaker.Options) {
		if cfg.Region != "" {
			o.Region = cfg.Region
		}
		if cfg.BaseEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.BaseEndpoint)
		}
		o.RetryMaxAttempts = cfg.MaxAttempts
	})
	return &Executor{cfg: cfg, client: client, log: log.With().Str("executor", "sagemaker").Logger()}, nil
}

// Name is "sagemaker".
func (e *Executor) Name() string { return "sagemaker" }

// BaseModelURI is the hyperparameter naming a model.tar.gz in S3 to train
// from in place of model_id: the SFT model a DPO job refines.
const BaseModelURI = "base_model_uri"

// jobName is SageMaker's pattern of a training job's name.
var jobName = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)

// Run creates the training job job.ID (or, when a job of that name
// exists, follows it: a Run after twin restarted does not start a second
// one), reports each change of its status through progress (pending while
// SageMaker prepares it, running while it trains; the final state is
// Run's return), and returns its model.tar.gz when it completes. A job
// that failed, or that SageMaker refused to create, is ErrJobFailed with
// SageMaker's reason; a stopped one ErrJobStopped. When ctx is cancelled
// Run stops the job (StopTrainingJob) and returns ErrJobStopped, unless
// Config.KeepRunningOnCancel. Any other error leaves the job running on
// SageMaker.
func (e *Executor) Run(ctx context.Context, job trainer.Job, progress trainer.Progress) (trainer.Result, error) {
	if progress == nil {
		progress = func(string, string, time.Time) {}
	}
	log := e.log.With().Str("job", job.ID).Str("kind", job.Kind).Logger()
	in, err := e.trainingJob(ctx, job)
	if err != nil {
		return trainer.Result{}, err
	}
	_, err = e.client.CreateTrainingJob(ctx, in)
	var inUse *types.ResourceInUse
	switch {
	case errors.As(err, &inUse):
		log.Info().Msg("a SageMaker training job of this name exists: following it")
		progress(schemas.StateRunning, "following the SageMaker training job "+job.ID+", created before", time.Now())
	case err != nil:
		if ctx.Err() != nil {
			// The request may have reached SageMaker before the cancel:
			// a job that exists is stopped like any other.
			return e.cancelled(ctx, job.ID, log)
		}
		return trainer.Result{}, createError(job.ID, err)
	default:
		log.Info().Str("image", e.cfg.Image).Str("instance", e.cfg.InstanceType).Msg("SageMaker training job created")
		progress(schemas.StatePending, "SageMaker training job "+job.ID+" created", time.Now())
	}
	return e.follow(ctx, job.ID, progress, log)
}

// createError classifies a refused creation: what SageMaker rejects as
// the caller's fault (a validation error, a quota) will not pass on a
// retry, so the job failed; anything else may be passing.
func createError(name string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorFault() != smithy.FaultServer && !strings.Contains(apiErr.ErrorCode(), "Throttl") {
		return fmt.Errorf("%w: SageMaker refused the training job %s: %w", trainer.ErrJobFailed, name, err)
	}
	return fmt.Errorf("create the SageMaker training job %s: %w", name, err)
}

// trainingJob is the CreateTrainingJob request of job; it uploads the
// dataset first when the executor is to.
func (e *Executor) trainingJob(ctx context.Context, job trainer.Job) (*sagemaker.CreateTrainingJobInput, error) {
	if !jobName.MatchString(job.ID) {
		return nil, fmt.Errorf("%w: %q is not a SageMaker job name (letters, digits and '-', at most 63)", trainer.ErrJobFailed, job.ID)
	}
	hp := DefaultHyperparameters(job.Kind)
	if hp == nil {
		return nil, fmt.Errorf("%w: the sagemaker executor trains %s and %s, not %q", trainer.ErrJobFailed, schemas.TrainingSFT, schemas.TrainingDPO, job.Kind)
	}
	hp["training_kind"] = job.Kind
	hp["model_id"] = e.cfg.BaseModel
	maps.Copy(hp, job.Hyperparameters)
	// How the Hugging Face container finds the program: it downloads and
	// unpacks sagemaker_submit_directory and runs sagemaker_program in it.
	hp["sagemaker_program"] = e.cfg.EntryPoint
	hp["sagemaker_submit_directory"] = e.cfg.SourceURI
	hp["sagemaker_region"] = e.cfg.Region

	dataset := job.DatasetURI
	if dataset == "" {
		if e.cfg.Upload == nil {
			return nil, fmt.Errorf("%w: job %s has no dataset in S3 and the executor has no S3 prefix to upload it to", trainer.ErrJobFailed, job.ID)
		}
		dataset = strings.TrimSuffix(e.cfg.DatasetPrefix, "/") + "/" + job.ID
		if err := e.cfg.Upload(ctx, job.DatasetDir, dataset); err != nil {
			return nil, fmt.Errorf("upload the dataset of job %s to %s: %w", job.ID, dataset, err)
		}
	}
	dataset = strings.TrimSuffix(dataset, "/")

	channel := func(name, uri, contentType string) types.Channel {
		c := types.Channel{
			ChannelName: aws.String(name),
			InputMode:   types.TrainingInputModeFile,
			DataSource: &types.DataSource{S3DataSource: &types.S3DataSource{
				S3DataType:             types.S3DataTypeS3Prefix,
				S3Uri:                  aws.String(uri),
				S3DataDistributionType: types.S3DataDistributionFullyReplicated,
			}},
		}
		if contentType != "" {
			c.ContentType = aws.String(contentType)
		}
		return c
	}
	channels := []types.Channel{
		channel("train", dataset+"/train.jsonl", "application/jsonl"),
		channel("test", dataset+"/test.jsonl", "application/jsonl"),
	}
	// A model twin trained before (DPO on top of the SFT model) reaches
	// the container as the channel "model", which train.py starts from.
	if uri := hp[BaseModelURI]; uri != "" {
		if !strings.HasPrefix(uri, "s3://") {
			return nil, fmt.Errorf("%w: %s %q is not an s3:// URI", trainer.ErrJobFailed, BaseModelURI, uri)
		}
		channels = append(channels, channel("model", uri, ""))
	}
	return &sagemaker.CreateTrainingJobInput{
		TrainingJobName: aws.String(job.ID),
		RoleArn:         aws.String(e.cfg.RoleARN),
		AlgorithmSpecification: &types.AlgorithmSpecification{
			TrainingImage:     aws.String(e.cfg.Image),
			TrainingInputMode: types.TrainingInputModeFile,
			// The Hugging Face Trainer logs each step as a Python dict;
			// these make its losses the job's metrics.
			MetricDefinitions: []types.MetricDefinition{
				{Name: aws.String("loss"), Regex: aws.String(`'loss': ([0-9.eE+-]+)`)},
				{Name: aws.String("eval_loss"), Regex: aws.String(`'eval_loss': ([0-9.eE+-]+)`)},
			},
		},
		HyperParameters: hp,
		Environment:     e.cfg.Environment,
		InputDataConfig: channels,
		OutputDataConfig: &types.OutputDataConfig{
			S3OutputPath: aws.String(e.cfg.OutputURI),
		},
		ResourceConfig: &types.ResourceConfig{
			InstanceType:   types.TrainingInstanceType(e.cfg.InstanceType),
			InstanceCount:  aws.Int32(e.cfg.InstanceCount),
			VolumeSizeInGB: aws.Int32(e.cfg.VolumeGB),
		},
		StoppingCondition: &types.StoppingCondition{
			MaxRuntimeInSeconds: aws.Int32(int32(e.cfg.MaxRuntime / time.Second)),
		},
		Tags: []types.Tag{
			{Key: aws.String("twin:trigger"), Value: aws.String(tagValue(job.TriggerID))},
			{Key: aws.String("twin:kind"), Value: aws.String(job.Kind)},
		},
	}, nil
}

// tagValue fits a tag's value into SageMaker's limit of 256 characters.
func tagValue(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// follow describes the job every Config.Poll until it is final.
func (e *Executor) follow(ctx context.Context, name string, progress trainer.Progress, log zerolog.Logger) (trainer.Result, error) {
	last := ""
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return e.cancelled(ctx, name, log)
		case <-timer.C:
		}
		out, err := e.client.DescribeTrainingJob(ctx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: aws.String(name)})
		if err != nil {
			if ctx.Err() != nil {
				return e.cancelled(ctx, name, log)
			}
			return trainer.Result{}, fmt.Errorf("describe the SageMaker training job %s: %w", name, err)
		}
		if res, final, err := outcome(name, out); final {
			log.Info().Str("status", string(out.TrainingJobStatus)).Err(err).Msg("SageMaker training job final")
			return res, err
		}
		if now := string(out.TrainingJobStatus) + "/" + string(out.SecondaryStatus); now != last {
			last = now
			state, msg := describeState(out)
			log.Info().Str("status", now).Msg(msg)
			at := time.Now()
			if out.LastModifiedTime != nil {
				at = *out.LastModifiedTime
			}
			progress(state, msg, at)
		}
		timer.Reset(e.cfg.Poll)
	}
}

// preparing are the secondary statuses of a job that has not begun to
// train: its state is pending.
var preparing = []types.SecondaryStatus{
	types.SecondaryStatusStarting, types.SecondaryStatusPending,
	types.SecondaryStatusLaunchingMlInstances, types.SecondaryStatusPreparingTrainingStack,
	types.SecondaryStatusDownloading, types.SecondaryStatusDownloadingTrainingImage,
}

// describeState is the trainer's state of a job that is not final, and a
// message saying where SageMaker is with it.
func describeState(out *sagemaker.DescribeTrainingJobOutput) (string, string) {
	msg := "SageMaker: " + string(out.TrainingJobStatus) + "/" + string(out.SecondaryStatus)
	if n := len(out.SecondaryStatusTransitions); n > 0 {
		if m := aws.ToString(out.SecondaryStatusTransitions[n-1].StatusMessage); m != "" {
			msg += ": " + m
		}
	}
	if slices.Contains(preparing, out.SecondaryStatus) {
		return schemas.StatePending, msg
	}
	return schemas.StateRunning, msg
}

// outcome is the result of a final job, and whether it is final.
func outcome(name string, out *sagemaker.DescribeTrainingJobOutput) (trainer.Result, bool, error) {
	res := trainer.Result{ExternalID: name, Metrics: map[string]float64{}}
	for _, m := range out.FinalMetricDataList {
		if m.MetricName != nil && m.Value != nil {
			res.Metrics[*m.MetricName] = float64(*m.Value)
		}
	}
	if out.BillableTimeInSeconds != nil {
		res.Metrics["billable_seconds"] = float64(*out.BillableTimeInSeconds)
	}
	if out.TrainingTimeInSeconds != nil {
		res.Metrics["training_seconds"] = float64(*out.TrainingTimeInSeconds)
	}
	switch out.TrainingJobStatus {
	case types.TrainingJobStatusCompleted:
		if out.ModelArtifacts == nil || aws.ToString(out.ModelArtifacts.S3ModelArtifacts) == "" {
			return res, true, fmt.Errorf("%w: SageMaker training job %s completed without model artifacts", trainer.ErrJobFailed, name)
		}
		res.ArtifactURI = *out.ModelArtifacts.S3ModelArtifacts
		return res, true, nil
	case types.TrainingJobStatusFailed:
		return res, true, fmt.Errorf("%w: SageMaker training job %s: %s", trainer.ErrJobFailed, name, aws.ToString(out.FailureReason))
	case types.TrainingJobStatusStopped:
		return res, true, fmt.Errorf("%w: SageMaker training job %s was stopped (%s)", trainer.ErrJobStopped, name, out.SecondaryStatus)
	}
	return res, false, nil
}

// cancelled ends a Run whose context is done: it stops the job, unless it
// is to keep running. A job that became final meanwhile is reported as
// what it is, so a model that completed is not lost to the cancel.
func (e *Executor) cancelled(ctx context.Context, name string, log zerolog.Logger) (trainer.Result, error) {
	cause := context.Cause(ctx)
	if e.cfg.KeepRunningOnCancel {
		log.Info().Msg("left the SageMaker training job running; following it again resumes")
		return trainer.Result{}, fmt.Errorf("stopped following the SageMaker training job %s, which goes on: %w", name, cause)
	}
	// The caller's context is gone; the stop is still to be asked for.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := e.client.StopTrainingJob(stopCtx, &sagemaker.StopTrainingJobInput{TrainingJobName: aws.String(name)})
	if err == nil {
		log.Info().Msg("asked SageMaker to stop the training job")
		return trainer.Result{ExternalID: name}, fmt.Errorf("%w: SageMaker training job %s: stop requested: %w", trainer.ErrJobStopped, name, cause)
	}
	// SageMaker refuses to stop a job that is already final.
	out, derr := e.client.DescribeTrainingJob(stopCtx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: aws.String(name)})
	if derr == nil {
		if res, final, ferr := outcome(name, out); final {
			return res, ferr
		}
	}
	return trainer.Result{ExternalID: name}, fmt.Errorf("stop the SageMaker training job %s (it may still run): %w (cancelled: %w)", name, err, cause)
}
