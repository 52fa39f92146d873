package sagemakertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ControlPlane is a fake of SageMaker's own API (training jobs, models,
// endpoint configurations, endpoints) as the real client speaks it: JSON
// 1.1 over POST /, the operation in X-Amz-Target ("SageMaker.Op"),
// requests signed with SigV4 for the service "sagemaker", errors as a 400
// with the error's name in "__type". It keeps what it was asked to make
// and moves each thing one state further at each Describe of it, so a
// test sees a job pass through its states without waiting on a clock.
//
// It checks what SageMaker checks before it accepts a job (the required
// members, the name's pattern, the hyperparameters' limits) and answers
// with SageMaker's errors for a name in use and a resource it does not
// know. It proves nothing about images, roles, S3 access, quotas or what
// a real container does with the hyperparameters.
type ControlPlane struct {
	// Script gives a new training job the steps it passes through after
	// it is created, one per DescribeTrainingJob; it stays at the last.
	// nil: CompleteAfter(2, nil).
	Script func(name string) []JobStep
	// FailModel says why an endpoint cannot serve a model (its image, its
	// data); "" serves it. nil: every model serves.
	FailModel func(image, modelDataURL string) string

	mu        sync.Mutex // guards what follows
	calls     []string
	jobs      map[string]*FakeJob
	models    map[string]map[string]any
	configs   map[string]endpointConfig
	endpoints map[string]*fakeEndpoint
}

// JobStep is one state of a fake training job, as DescribeTrainingJob
// reports it.
type JobStep struct {
	Status    string // InProgress, Completed, Failed, Stopping, Stopped
	Secondary string // Starting, Downloading, Training, Uploading, Completed, ...
	Message   string
	// FailureReason is reported with Status Failed.
	FailureReason string
	// Metrics is the job's FinalMetricDataList, reported once it is
	// final.
	Metrics map[string]float64
}

// CompleteAfter is a job that starts, trains for the given number of
// describes and completes with metrics.
func CompleteAfter(training int, metrics map[string]float64) []JobStep {
	steps := []JobStep{{Status: "InProgress", Secondary: "Starting", Message: "Launching requested ML instances"}}
	for range training {
		steps = append(steps, JobStep{Status: "InProgress", Secondary: "Training", Message: "Training image download completed. Training in progress."})
	}
	return append(steps,
		JobStep{Status: "InProgress", Secondary: "Uploading", Message: "Uploading generated training model"},
		JobStep{Status: "Completed", Secondary: "Completed", Message: "Training job completed", Metrics: metrics})
}

// FailAfterStart is a job that starts and fails with reason.
func FailAfterStart(reason string) []JobStep {
	return []JobStep{
		{Status: "InProgress", Secondary: "Starting", Message: "Preparing the instances for training"},
		{Status: "InProgress", Secondary: "Training", Message: "Training in progress."},
		{Status: "Failed", Secondary: "Failed", Message: "Training job failed", FailureReason: reason},
	}
}

// RunForever is a job that trains until it is stopped.
func RunForever() []JobStep {
	return []JobStep{
		{Status: "InProgress", Secondary: "Starting", Message: "Preparing the instances for training"},
		{Status: "InProgress", Secondary: "Training", Message: "Training in progress."},
	}
}

// FakeJob is a training job the fake holds.
type FakeJob struct {
	// Request is the CreateTrainingJob body as it came over the wire.
	Request map[string]any
	// Creates counts the CreateTrainingJob calls for its name.
	Creates int
	// StopRequested is set by StopTrainingJob.
	StopRequested bool

	steps   []JobStep
	at      int
	created time.Time
}

type endpointConfig struct {
	request map[string]any
	model   string
}

type fakeEndpoint struct {
	config, pending string // the configuration served, and the one being rolled to
	status, failure string
	describes       int
	created         time.Time
}

// NewControlPlane returns an empty fake.
func NewControlPlane() *ControlPlane {
	return &ControlPlane{
		jobs:      map[string]*FakeJob{},
		models:    map[string]map[string]any{},
		configs:   map[string]endpointConfig{},
		endpoints: map[string]*fakeEndpoint{},
	}
}

// Calls returns the operations called so far, in order.
func (f *ControlPlane) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Job returns a copy of the training job called name, and whether the
// fake holds one.
func (f *ControlPlane) Job(name string) (FakeJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[name]
	if !ok {
		return FakeJob{}, false
	}
	return *j, true
}

// Model returns the CreateModel body of the model called name.
func (f *ControlPlane) Model(name string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.models[name]
	return m, ok
}

// EndpointConfig returns the CreateEndpointConfig body of the endpoint
// configuration called name.
func (f *ControlPlane) EndpointConfig(name string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.configs[name]
	return c.request, ok
}

// Serving returns the configuration the endpoint serves and its status.
func (f *ControlPlane) Serving(endpoint string) (config, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.endpoints[endpoint]
	if !ok {
		return "", ""
	}
	return e.config, e.status
}

// apiError is an answer of SageMaker's that is an error.
type apiError struct {
	status  int
	typ     string
	message string
}

func validation(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", fmt.Sprintf(format, args...)}
}

// jobName is SageMaker's pattern of job, model, configuration and
// endpoint names.
var jobName = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)

const arnPrefix = "arn:aws:sagemaker:eu-west-1:123456789012:"

func (f *ControlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "SageMaker.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, &apiError{http.StatusBadRequest, "UnknownOperationException", "no SageMaker operation in X-Amz-Target"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, validation("Content-Type %q is not application/x-amz-json-1.1", ct))
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/sagemaker/aws4_request") {
		writeError(w, &apiError{http.StatusForbidden, "MissingAuthenticationToken", "the request is not signed for sagemaker: " + auth})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, validation("read the body: %v", err))
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", err.Error()})
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	out, aerr := f.call(op, in)
	f.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "Message": e.message})
}

// call runs op under f.mu.
func (f *ControlPlane) call(op string, in map[string]any) (map[string]any, *apiError) {
	switch op {
	case "CreateTrainingJob":
		return f.createTrainingJob(in)
	case "DescribeTrainingJob":
		return f.describeTrainingJob(str(in, "TrainingJobName"))
	case "StopTrainingJob":
		return f.stopTrainingJob(str(in, "TrainingJobName"))
	case "CreateModel":
		return f.createModel(in)
	case "DescribeModel":
		name := str(in, "ModelName")
		m, ok := f.models[name]
		if !ok {
			return nil, validation("Could not find model %q.", name)
		}
		return map[string]any{"ModelName": name, "ModelArn": arnPrefix + "model/" + name, "PrimaryContainer": m["PrimaryContainer"], "ExecutionRoleArn": m["ExecutionRoleArn"], "CreationTime": epoch(time.Now())}, nil
	case "CreateEndpointConfig":
		return f.createEndpointConfig(in)
	case "DescribeEndpointConfig":
		name := str(in, "EndpointConfigName")
		c, ok := f.configs[name]
		if !ok {
			return nil, validation("Could not find endpoint configuration %q.", name)
		}
		return map[string]any{"EndpointConfigName": name, "EndpointConfigArn": arnPrefix + "endpoint-config/" + name, "ProductionVariants": c.request["ProductionVariants"], "CreationTime": epoch(time.Now())}, nil
	case "CreateEndpoint":
		return f.createEndpoint(in)
	case "UpdateEndpoint":
		return f.updateEndpoint(in)
	case "DescribeEndpoint":
		return f.describeEndpoint(str(in, "EndpointName"))
	}
	return nil, &apiError{http.StatusBadRequest, "UnknownOperationException", "the fake does not know " + op}
}

func (f *ControlPlane) createTrainingJob(in map[string]any) (map[string]any, *apiError) {
	name := str(in, "TrainingJobName")
	for _, member := range []string{"TrainingJobName", "RoleArn", "AlgorithmSpecification", "OutputDataConfig", "ResourceConfig", "StoppingCondition"} {
		if in[member] == nil {
			return nil, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
		}
	}
	if !jobName.MatchString(name) {
		return nil, validation("Value '%s' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", name, jobName)
	}
	spec, _ := in["AlgorithmSpecification"].(map[string]any)
	if str(spec, "TrainingInputMode") == "" || str(spec, "TrainingImage") == "" {
		return nil, validation("AlgorithmSpecification needs TrainingInputMode and a TrainingImage")
	}
	hp, _ := in["HyperParameters"].(map[string]any)
	if len(hp) > 100 {
		return nil, validation("HyperParameters: at most 100 entries, got %d", len(hp))
	}
	for k, v := range hp {
		s, ok := v.(string)
		if !ok || len(k) > 256 || len(s) > 2500 {
			return nil, validation("HyperParameters[%q]: a string key of at most 256 and value of at most 2500 characters", k)
		}
	}
	if j, ok := f.jobs[name]; ok {
		j.Creates++
		return nil, &apiError{http.StatusBadRequest, "ResourceInUse", fmt.Sprintf("Training job names must be unique within an AWS account and region, and a training job with this name already exists (%s%s)", arnPrefix+"training-job/", name)}
	}
	script := f.Script
	if script == nil {
		script = func(string) []JobStep { return CompleteAfter(2, nil) }
	}
	f.jobs[name] = &FakeJob{Request: in, Creates: 1, steps: script(name), at: -1, created: time.Now()}
	return map[string]any{"TrainingJobArn": arnPrefix + "training-job/" + name}, nil
}

func (f *ControlPlane) describeTrainingJob(name string) (map[string]any, *apiError) {
	j, ok := f.jobs[name]
	if !ok {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFound", "Requested resource not found."}
	}
	if j.at < len(j.steps)-1 {
		j.at++
	}
	step := j.steps[j.at]
	out := map[string]any{
		"TrainingJobName":        name,
		"TrainingJobArn":         arnPrefix + "training-job/" + name,
		"TrainingJobStatus":      step.Status,
		"SecondaryStatus":        step.Secondary,
		"CreationTime":           epoch(j.created),
		"LastModifiedTime":       epoch(time.Now()),
		"AlgorithmSpecification": j.Request["AlgorithmSpecification"],
		"HyperParameters":        j.Request["HyperParameters"],
		"InputDataConfig":        j.Request["InputDataConfig"],
		"OutputDataConfig":       j.Request["OutputDataConfig"],
		"ResourceConfig":         j.Request["ResourceConfig"],
		"StoppingCondition":      j.Request["StoppingCondition"],
		"RoleArn":                j.Request["RoleArn"],
		"SecondaryStatusTransitions": []map[string]any{
			{"Status": step.Secondary, "StartTime": epoch(j.created), "StatusMessage": step.Message},
		},
	}
	switch step.Status {
	case "Completed":
		output, _ := j.Request["OutputDataConfig"].(map[string]any)
		out["ModelArtifacts"] = map[string]any{"S3ModelArtifacts": strings.TrimSuffix(str(output, "S3OutputPath"), "/") + "/" + name + "/output/model.tar.gz"}
		out["BillableTimeInSeconds"] = 1260
		out["TrainingTimeInSeconds"] = 1260
	case "Failed":
		out["FailureReason"] = step.FailureReason
		out["BillableTimeInSeconds"] = 120
	case "Stopped":
		out["BillableTimeInSeconds"] = 300
	}
	if step.Metrics != nil {
		var list []map[string]any
		for k, v := range step.Metrics {
			list = append(list, map[string]any{"MetricName": k, "Value": v, "Timestamp": epoch(time.Now())})
		}
		out["FinalMetricDataList"] = list
	}
	return out, nil
}

func (f *ControlPlane) stopTrainingJob(name string) (map[string]any, *apiError) {
	j, ok := f.jobs[name]
	if !ok {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFound", "Requested resource not found."}
	}
	if j.at >= 0 && j.steps[j.at].Status != "InProgress" {
		return nil, validation("The request was rejected because the training job is in status %s.", j.steps[j.at].Status)
	}
	j.StopRequested = true
	// From the step it is in, the job stops: Stopping, then Stopped.
	j.steps = append(j.steps[:j.at+1:j.at+1],
		JobStep{Status: "Stopping", Secondary: "Stopping", Message: "Stopping the training job"},
		JobStep{Status: "Stopped", Secondary: "Stopped", Message: "The training job was stopped"})
	return map[string]any{}, nil
}

func (f *ControlPlane) createModel(in map[string]any) (map[string]any, *apiError) {
	name := str(in, "ModelName")
	if !jobName.MatchString(name) {
		return nil, validation("Value '%s' at 'modelName' failed to satisfy constraint", name)
	}
	if _, ok := f.models[name]; ok {
		return nil, validation("Cannot create already existing model %q.", arnPrefix+"model/"+name)
	}
	c, _ := in["PrimaryContainer"].(map[string]any)
	if str(c, "Image") == "" || str(in, "ExecutionRoleArn") == "" {
		return nil, validation("a model needs PrimaryContainer.Image and ExecutionRoleArn")
	}
	f.models[name] = in
	return map[string]any{"ModelArn": arnPrefix + "model/" + name}, nil
}

func (f *ControlPlane) createEndpointConfig(in map[string]any) (map[string]any, *apiError) {
	name := str(in, "EndpointConfigName")
	if _, ok := f.configs[name]; ok {
		return nil, validation("Cannot create already existing endpoint configuration %q.", arnPrefix+"endpoint-config/"+name)
	}
	variants, _ := in["ProductionVariants"].([]any)
	if len(variants) != 1 {
		return nil, validation("the fake takes one production variant, got %d", len(variants))
	}
	v, _ := variants[0].(map[string]any)
	model := str(v, "ModelName")
	if _, ok := f.models[model]; !ok {
		return nil, validation("Could not find model %q.", arnPrefix+"model/"+model)
	}
	f.configs[name] = endpointConfig{request: in, model: model}
	return map[string]any{"EndpointConfigArn": arnPrefix + "endpoint-config/" + name}, nil
}

func (f *ControlPlane) createEndpoint(in map[string]any) (map[string]any, *apiError) {
	name, config := str(in, "EndpointName"), str(in, "EndpointConfigName")
	if _, ok := f.endpoints[name]; ok {
		return nil, validation("Cannot create already existing endpoint %q.", arnPrefix+"endpoint/"+name)
	}
	if _, ok := f.configs[config]; !ok {
		return nil, validation("Could not find endpoint configuration %q.", config)
	}
	f.endpoints[name] = &fakeEndpoint{pending: config, status: "Creating", created: time.Now()}
	return map[string]any{"EndpointArn": arnPrefix + "endpoint/" + name}, nil
}

func (f *ControlPlane) updateEndpoint(in map[string]any) (map[string]any, *apiError) {
	name, config := str(in, "EndpointName"), str(in, "EndpointConfigName")
	e, ok := f.endpoints[name]
	if !ok {
		return nil, validation("Could not find endpoint %q.", arnPrefix+"endpoint/"+name)
	}
	if e.status != "InService" {
		return nil, validation("Cannot update in-progress endpoint %q.", arnPrefix+"endpoint/"+name)
	}
	if _, ok := f.configs[config]; !ok {
		return nil, validation("Could not find endpoint configuration %q.", config)
	}
	e.pending, e.status, e.failure, e.describes = config, "Updating", "", 0
	return map[string]any{"EndpointArn": arnPrefix + "endpoint/" + name}, nil
}

// describeEndpoint moves a creation or update on after two describes: to
// InService on the new configuration, or, when its model cannot serve, to
// Failed (a creation) or back to InService on the old configuration with
// the reason (an update rolled back), as SageMaker does.
func (f *ControlPlane) describeEndpoint(name string) (map[string]any, *apiError) {
	e, ok := f.endpoints[name]
	if !ok {
		return nil, validation("Could not find endpoint %q.", arnPrefix+"endpoint/"+name)
	}
	if e.pending != "" {
		e.describes++
		if e.describes > 2 {
			reason := ""
			if f.FailModel != nil {
				m := f.models[f.configs[e.pending].model]
				c, _ := m["PrimaryContainer"].(map[string]any)
				reason = f.FailModel(str(c, "Image"), str(c, "ModelDataUrl"))
			}
			switch {
			case reason == "":
				e.config, e.status, e.failure = e.pending, "InService", ""
			case e.config == "":
				e.status, e.failure = "Failed", reason
			default:
				e.status, e.failure = "InService", reason
			}
			e.pending, e.describes = "", 0
		}
	}
	out := map[string]any{
		"EndpointName":     name,
		"EndpointArn":      arnPrefix + "endpoint/" + name,
		"EndpointStatus":   e.status,
		"CreationTime":     epoch(e.created),
		"LastModifiedTime": epoch(time.Now()),
	}
	if e.config != "" {
		out["EndpointConfigName"] = e.config
	} else {
		out["EndpointConfigName"] = e.pending
	}
	if e.failure != "" {
		out["FailureReason"] = e.failure
	}
	return out, nil
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// epoch is a timestamp as JSON 1.1 carries it: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
