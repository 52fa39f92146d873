// Package trainer is the trainer consumer: it takes the triggers of
// twin.training.triggers, builds the dataset each needs, runs one training
// job per trigger on an executor, reports every state change on
// twin.training.status, and registers what the job produced as a candidate
// model version.
package trainer

import (
	"context"
	"errors"
	"time"
)

// Job is one training job, as an executor receives it.
type Job struct {
	// ID names the job: unique per trigger, a valid SageMaker job name
	// (letters, digits and '-', at most 63 characters).
	ID string
	// Kind is the trigger's: schemas.TrainingRerank, TrainingSFT or
	// TrainingDPO.
	Kind string
	// TriggerID is the trigger the job runs for.
	TriggerID string
	// DatasetDir holds the exported dataset: train.jsonl and test.jsonl.
	DatasetDir string
	// DatasetURI is where the dataset was exported for executors that
	// cannot read DatasetDir (an s3:// prefix); empty when it was not.
	DatasetURI string
	// OutputDir is an empty directory the job may write its artifact to.
	OutputDir string
	// Hyperparameters override the executor's defaults for this job.
	Hyperparameters map[string]string
}

// Result is what a job that succeeded produced.
type Result struct {
	// ArtifactURI is where the trained model is: a file:// directory, an
	// s3:// object, or a twin model store key.
	ArtifactURI string
	// Metrics are the executor's figures of the run (training loss,
	// seconds billed, ...).
	Metrics map[string]float64
	// ExternalID is the job's name in the system that ran it (the
	// SageMaker training job name), when it has one.
	ExternalID string
}

// Progress is called by an executor at every state change of its job:
// state is one of schemas' State constants, message says what happened.
type Progress func(state, message string, at time.Time)

// Executor runs training jobs. Run blocks until the job is final; it
// returns an error that matches ErrJobFailed or ErrJobStopped when the job
// itself failed or was stopped, and any other error when the executor could
// not follow it (the job may still run; running Run again with the same Job
// resumes following it rather than starting a second one, where the
// executor can tell).
type Executor interface {
	// Name is the executor's name in statuses: "rerank", "command",
	// "sagemaker".
	Name() string
	Run(ctx context.Context, job Job, progress Progress) (Result, error)
}

// Errors of a job that ended without a model.
var (
	ErrJobFailed  = errors.New("training job failed")
	ErrJobStopped = errors.New("training job stopped")
)
