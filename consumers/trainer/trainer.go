package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/metrics"
	"github.com/twin-llm/twin/internal/models/registry"
	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Consumer is the trainer's durable consumer.
const Consumer = streams.ConsumerTrainer

// ArtifactFile is the file a job may leave in its output directory as its
// whole model, small enough for the registry's object store (a learned
// reranker); the registry then serves it to every process.
const ArtifactFile = "model.json"

// MetricsFile is a JSON object of numbers a job may leave in its output
// directory; its figures join the job's metrics, and the evaluation gate
// reads them (an external program reports its evaluation this way).
const MetricsFile = "metrics.json"

// Datasets builds the training data of a job; consumers/datasets
// implements it.
type Datasets interface {
	// Build writes dir/train.jsonl and dir/test.jsonl for the kind of
	// training, and says what it wrote. An error that matches ErrJobFailed
	// (there is no data to train on) fails the job; any other is retried.
	Build(ctx context.Context, kind, dir string) (Dataset, error)
}

// Dataset is what Datasets.Build wrote.
type Dataset struct {
	ID       string
	URI      string // where executors that cannot read the directory find it (s3://...), if anywhere
	Examples int
}

// Registry is what the trainer needs of the model registry.
type Registry interface {
	PutArtifact(ctx context.Context, name, jobID string, data []byte) (string, error)
	Register(ctx context.Context, m schemas.ModelRegistered) (warehouse.ModelRecord, error)
	List(ctx context.Context, name string) ([]warehouse.ModelRecord, error)
	ServingVersion(ctx context.Context, name string) (warehouse.ModelRecord, bool, error)
	Promote(ctx context.Context, name, version string) (warehouse.ModelRecord, error)
	Reject(ctx context.Context, m warehouse.ModelRecord) (warehouse.ModelRecord, error)
}

// Config assembles a trainer.
type Config struct {
	// Executors run the jobs, by kind of training (schemas.TrainingRerank,
	// TrainingSFT, TrainingDPO). A kind without one fails its triggers
	// with a status that says so.
	Executors map[string]Executor
	Datasets  Datasets // nil: jobs get no dataset directory filled
	Registry  Registry
	Publisher *streams.Publisher
	// WorkDir holds each job's dataset and output directories.
	WorkDir string
	Gate    Gate
	// Registerer gets the trainer's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	Log        zerolog.Logger
}

// Trainer is the consumer.
type Trainer struct {
	cfg  Config
	jobs *prometheus.CounterVec
}

// New returns a trainer.
func New(cfg Config) (*Trainer, error) {
	if cfg.Registry == nil || cfg.Publisher == nil || cfg.WorkDir == "" {
		return nil, errors.New("trainer: Registry, Publisher and WorkDir are required")
	}
	jobs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twin_training_jobs_total",
		Help: "Training jobs that ended, by kind and final state (succeeded, failed, stopped) and gate decision.",
	}, []string{"kind", "state", "decision"})
	jobs, err := metrics.Register(cfg.Registerer, jobs)
	if err != nil {
		return nil, err
	}
	return &Trainer{cfg: cfg, jobs: jobs}, nil
}

// Handler is the trainer's streams.Handler.
func (t *Trainer) Handler() streams.Handler { return streams.Decoded(t.handle) }

// JobID is the job of a trigger: a name SageMaker accepts (letters, digits,
// '-', at most 63 characters), the same for every delivery of the trigger,
// so a redelivery follows the job instead of starting a second one.
func JobID(trig *schemas.TrainingTrigger) string {
	sum := sha256.Sum256([]byte(trig.ID))
	return "twin-" + trig.Kind + "-" + hex.EncodeToString(sum[:])[:16]
}

// handle runs the job of one trigger to its end.
func (t *Trainer) handle(ctx context.Context, msg *streams.Msg, trig *schemas.TrainingTrigger) error {
	job := Job{ID: JobID(trig), Kind: trig.Kind, TriggerID: trig.ID}
	log := t.cfg.Log.With().Str("job", job.ID).Str("kind", job.Kind).Str("trigger", trig.ID).Logger()
	name := registry.NameFor(trig.Kind)
	exec, ok := t.cfg.Executors[trig.Kind]
	if !ok {
		t.jobs.WithLabelValues(trig.Kind, schemas.StateFailed, "none").Inc()
		return t.status(ctx, job, "", schemas.StateFailed, fmt.Sprintf("no executor trains %s models here (see --trainer)", trig.Kind), nil, "")
	}
	// A redelivery after the job registered its model (the process
	// stopped before the ack) goes straight to the gate.
	if done, err := t.registered(ctx, name, job.ID); err != nil {
		return err
	} else if done != nil {
		return t.finish(ctx, log, job, exec.Name(), *done)
	}
	if err := t.status(ctx, job, exec.Name(), schemas.StatePending, "building the dataset", nil, ""); err != nil {
		return err
	}
	dir := filepath.Join(t.cfg.WorkDir, job.ID)
	job.DatasetDir, job.OutputDir = filepath.Join(dir, "dataset"), filepath.Join(dir, "output")
	// The output of an earlier, interrupted attempt is not this attempt's.
	if err := os.RemoveAll(job.OutputDir); err != nil {
		return fmt.Errorf("clear %s: %w", job.OutputDir, err)
	}
	for _, d := range []string{job.DatasetDir, job.OutputDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("prepare job %s: %w", job.ID, err)
		}
	}
	var datasets []string
	if t.cfg.Datasets != nil {
		ds, err := t.cfg.Datasets.Build(ctx, trig.Kind, job.DatasetDir)
		if errors.Is(err, ErrJobFailed) {
			t.jobs.WithLabelValues(trig.Kind, schemas.StateFailed, "none").Inc()
			return t.status(ctx, job, exec.Name(), schemas.StateFailed, "no dataset: "+err.Error(), nil, "")
		}
		if err != nil {
			return fmt.Errorf("build the dataset of %s: %w", job.ID, err)
		}
		job.DatasetURI = ds.URI
		if ds.ID != "" {
			datasets = []string{ds.ID}
		}
		log.Info().Str("dataset", ds.ID).Int("examples", ds.Examples).Msg("dataset built")
	}
	started := time.Now()
	res, err := exec.Run(ctx, job, func(state, message string, _ time.Time) {
		if err := t.status(ctx, job, exec.Name(), state, message, nil, ""); err != nil {
			log.Warn().Err(err).Msg("status not published")
		}
	})
	switch {
	case errors.Is(err, ErrJobFailed), errors.Is(err, ErrJobStopped):
		state := schemas.StateFailed
		if errors.Is(err, ErrJobStopped) {
			state = schemas.StateStopped
		}
		log.Warn().Err(err).Msg("training job ended without a model")
		t.jobs.WithLabelValues(trig.Kind, state, "none").Inc()
		return t.status(ctx, job, exec.Name(), state, err.Error(), nil, "")
	case err != nil:
		// The executor lost track of the job (a network error, a stop of
		// this process): a redelivery runs it again, and the executors
		// resume a job that still runs.
		return fmt.Errorf("run %s: %w", job.ID, err)
	}
	metrics, err := jobMetrics(res.Metrics, job.OutputDir)
	if err != nil {
		return err
	}
	metrics["seconds"] = time.Since(started).Seconds()
	uri := res.ArtifactURI
	if data, err := os.ReadFile(filepath.Join(job.OutputDir, ArtifactFile)); err == nil {
		if uri, err = t.cfg.Registry.PutArtifact(ctx, name, job.ID, data); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the artifact of %s: %w", job.ID, err)
	}
	parent, _, err := t.cfg.Registry.ServingVersion(ctx, name)
	if err != nil {
		return fmt.Errorf("read the serving version of %s: %w", name, err)
	}
	rec, err := t.cfg.Registry.Register(ctx, schemas.ModelRegistered{Name: name, Kind: trig.Kind, ArtifactURI: uri,
		JobID: job.ID, TriggerID: trig.ID, Metrics: metrics, Parent: parent.Version, Datasets: datasets})
	if err != nil {
		return err
	}
	return t.finish(ctx, log, job, exec.Name(), rec)
}

// registered is the version a job already registered, if any.
func (t *Trainer) registered(ctx context.Context, name, jobID string) (*warehouse.ModelRecord, error) {
	all, err := t.cfg.Registry.List(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read the registry: %w", err)
	}
	for _, m := range all {
		if m.JobID == jobID {
			return &m, nil
		}
	}
	return nil, nil
}

// finish puts a registered candidate through the gate and reports the
// job's end.
func (t *Trainer) finish(ctx context.Context, log zerolog.Logger, job Job, executor string, rec warehouse.ModelRecord) error {
	decision := "kept"
	if rec.State == schemas.ModelCandidate {
		serving, ok, err := t.cfg.Registry.ServingVersion(ctx, rec.Name)
		if err != nil {
			return fmt.Errorf("read the serving version of %s: %w", rec.Name, err)
		}
		var current *warehouse.ModelRecord
		if ok {
			current = &serving
		}
		verdict := t.cfg.Gate.Decide(rec, current)
		log.Info().Str("version", rec.Version).Str("decision", verdict.Decision).Str("why", verdict.Why).Msg("evaluation gate")
		switch verdict.Decision {
		case Promote:
			if _, err := t.cfg.Registry.Promote(ctx, rec.Name, rec.Version); err != nil {
				return err
			}
		case Reject:
			if _, err := t.cfg.Registry.Reject(ctx, rec); err != nil {
				return err
			}
		}
		decision = verdict.Decision
		rec.Metrics = withVerdict(rec.Metrics, verdict)
	}
	t.jobs.WithLabelValues(job.Kind, schemas.StateSucceeded, decision).Inc()
	msg := fmt.Sprintf("registered %s version %s: %s", rec.Name, rec.Version, decision)
	return t.status(ctx, job, executor, schemas.StateSucceeded, msg, rec.Metrics, rec.ArtifactURI)
}

func withVerdict(m map[string]float64, v Verdict) map[string]float64 {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]float64{}
	}
	if v.Decision == Promote {
		out["promoted"] = 1
	} else {
		out["promoted"] = 0
	}
	return out
}

// jobMetrics merges the executor's figures with the output's metrics file.
func jobMetrics(fromExecutor map[string]float64, outputDir string) (map[string]float64, error) {
	out := map[string]float64{}
	maps.Copy(out, fromExecutor)
	data, err := os.ReadFile(filepath.Join(outputDir, MetricsFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MetricsFile, err)
	}
	var fromFile map[string]float64
	if err := json.Unmarshal(data, &fromFile); err != nil {
		// The job succeeded; a metrics file it got wrong costs its
		// figures, not its model.
		out["metrics_file_invalid"] = 1
		return out, nil
	}
	maps.Copy(out, fromFile)
	return out, nil
}

// status publishes a state of job on twin.training.status. The message id
// names the job, the state and the message, so a redelivered trigger that
// reaches the same state again says it once.
func (t *Trainer) status(ctx context.Context, job Job, executor, state, message string, metrics map[string]float64, modelURI string) error {
	sum := sha256.Sum256([]byte(message))
	id := strings.Join([]string{"status", job.ID, state, hex.EncodeToString(sum[:8])}, ":")
	body := &schemas.TrainingStatus{TriggerID: job.TriggerID, JobID: job.ID, Kind: job.Kind, Executor: executor, State: state,
		Message: message, Metrics: metrics, ModelURI: modelURI, UpdatedAt: time.Now().UTC()}
	if _, err := t.cfg.Publisher.Publish(ctx, streams.Out{Subject: schemas.SubjectTrainingStatus, MsgID: id, Body: body}); err != nil {
		return fmt.Errorf("publish the status of %s: %w", job.ID, err)
	}
	return nil
}
