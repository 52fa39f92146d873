package schemas

import "time"

// Kinds of training, for TrainingTrigger.Kind and ModelRegistered.Kind.
const (
	TrainingSFT = "sft" // supervised fine-tuning on instruction pairs
	TrainingDPO = "dpo" // direct preference optimization on preference triples
)

// States of a training job, for TrainingStatus.State. Succeeded, failed and
// stopped are final.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateStopped   = "stopped"
)

// TrainingTrigger is a decision to retrain: the retrain policy publishes it on
// SubjectTrainingTriggers when new data, negative feedback or drift cross a
// threshold in a window (or an engineer runs twin train); the trainer starts
// a job for it. ID is the deduplication key: one trigger per window.
type TrainingTrigger struct {
	ID string `json:"id"`
	// Kind is TrainingSFT or TrainingDPO.
	Kind string `json:"kind"`
	// Reason says which threshold was crossed, for people reading the history.
	Reason      string             `json:"reason"`
	Dataset     Dataset            `json:"dataset,omitzero"`
	WindowStart time.Time          `json:"window_start,omitzero"`
	WindowEnd   time.Time          `json:"window_end,omitzero"`
	Metrics     map[string]float64 `json:"metrics,omitempty"` // the values the policy decided on
	CreatedAt   time.Time          `json:"created_at,omitzero"`
}

// Schema returns "training_trigger/v1".
func (TrainingTrigger) Schema() string { return "training_trigger/v1" }

// Dataset points at the exported training data.
type Dataset struct {
	URI      string `json:"uri,omitempty"` // a directory or an s3:// prefix of JSONL files
	Examples int    `json:"examples,omitempty"`
}

// TrainingStatus reports the state of the job started for a trigger. The
// trainer publishes one on SubjectTrainingStatus at every state change.
type TrainingStatus struct {
	TriggerID string `json:"trigger_id"`
	JobID     string `json:"job_id,omitempty"`
	// Executor is what runs the job: "sagemaker", "command".
	Executor string `json:"executor,omitempty"`
	// State is one of the State constants.
	State     string             `json:"state"`
	Message   string             `json:"message,omitempty"`
	ModelURI  string             `json:"model_uri,omitempty"` // the trained artifact, once succeeded
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	UpdatedAt time.Time          `json:"updated_at,omitzero"`
}

// Schema returns "training_status/v1".
func (TrainingStatus) Schema() string { return "training_status/v1" }

// ModelRegistered announces a new model version in the registry. The trainer
// publishes it on SubjectTrainingModels after a job succeeds (and, when it
// rolls one, once the endpoint serves the version).
type ModelRegistered struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Kind is TrainingSFT or TrainingDPO.
	Kind         string             `json:"kind,omitempty"`
	ArtifactURI  string             `json:"artifact_uri,omitempty"`
	JobID        string             `json:"job_id,omitempty"`
	TriggerID    string             `json:"trigger_id,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Endpoint     string             `json:"endpoint,omitempty"` // the serving endpoint, if one was rolled
	RegisteredAt time.Time          `json:"registered_at,omitzero"`
}

// Schema returns "model_registered/v1".
func (ModelRegistered) Schema() string { return "model_registered/v1" }
