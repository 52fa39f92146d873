package schemas

import "time"

// Kinds of training, for TrainingTrigger.Kind and ModelRegistered.Kind.
const (
	TrainingRerank = "rerank" // learning-to-rank of the retrieval reranker, from relevance judgments
	TrainingSFT    = "sft"    // supervised fine-tuning on instruction pairs
	TrainingDPO    = "dpo"    // direct preference optimization on preference triples
)

// Causes of a trigger, for TrainingTrigger.Cause: which of the retrain
// policy's rules fired, or a person.
const (
	CauseDocuments = "documents" // enough new documents since the last training
	CauseRatings   = "ratings"   // the share of negative ratings over a window crossed its threshold
	CauseJudgments = "judgments" // enough new relevance judgments
	CauseDrift     = "drift"     // recent embeddings drifted from the training snapshot
	CauseManual    = "manual"    // twin train trigger
)

// States of a model version in the registry, for ModelRegistered.State. One
// version per model name serves at a time.
const (
	ModelCandidate = "candidate" // registered, evaluated, not serving
	ModelServing   = "serving"   // the version in service
	ModelRetired   = "retired"   // served once, replaced by a promotion or a rollback
	ModelRejected  = "rejected"  // lost the evaluation gate against the version in service
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
	// Kind is TrainingRerank, TrainingSFT or TrainingDPO.
	Kind string `json:"kind"`
	// Cause is one of the Cause constants.
	Cause string `json:"cause,omitempty"`
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
	// Kind is the trigger's: TrainingRerank, TrainingSFT or TrainingDPO.
	Kind string `json:"kind,omitempty"`
	// Executor is what runs the job: "rerank", "command", "sagemaker".
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

// ModelRegistered announces a model version in the registry and each change
// of its state: the trainer publishes it on SubjectTrainingModels when a job
// succeeds (candidate), and the registry when the version is promoted,
// rejected, retired or rolled back to. Consumers that serve a model (the rag
// worker, the gateway's search) follow the serving version by it.
type ModelRegistered struct {
	// Name is the model's name: "reranker" for TrainingRerank, "llm" for
	// TrainingSFT and TrainingDPO.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Kind is TrainingRerank, TrainingSFT or TrainingDPO.
	Kind string `json:"kind,omitempty"`
	// State is one of the Model constants.
	State string `json:"state,omitempty"`
	// Parent is the version that served when this one was trained.
	Parent string `json:"parent,omitempty"`
	// Datasets are the ids of the datasets it was trained on.
	Datasets     []string           `json:"datasets,omitempty"`
	ArtifactURI  string             `json:"artifact_uri,omitempty"`
	JobID        string             `json:"job_id,omitempty"`
	TriggerID    string             `json:"trigger_id,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Endpoint     string             `json:"endpoint,omitempty"` // the serving endpoint, if one was rolled
	RegisteredAt time.Time          `json:"registered_at,omitzero"`
}

// Schema returns "model_registered/v1".
func (ModelRegistered) Schema() string { return "model_registered/v1" }
