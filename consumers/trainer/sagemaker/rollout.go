package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
)

// DefaultServingImage is the Hugging Face LLM inference container (Text
// Generation Inference) of region:
// 763104351884.dkr.ecr.<region>.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04.
// It serves the TGI messages API that twin's SageMaker LLM speaks.
func DefaultServingImage(region string) string {
	return dlcAccount + ".dkr.ecr." + region + ".amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04"
}

// Defaults of Deployment.
const (
	DefaultVariant         = "AllTraffic"
	DefaultServingInstance = "ml.g5.2xlarge"
)

// defaultServingEnv is what TGI needs to serve the merged weights train.py
// writes: the model is the unpacked model.tar.gz, on one GPU.
var defaultServingEnv = map[string]string{
	"HF_MODEL_ID":      "/opt/ml/model",
	"SM_NUM_GPUS":      "1",
	"MAX_INPUT_TOKENS": "2048",
	"MAX_TOTAL_TOKENS": "4096",
}

// Deployment is a trained model to put behind an endpoint.
type Deployment struct {
	// Endpoint is the SageMaker endpoint twin's LLM calls. Required.
	Endpoint string
	// Name names the SageMaker model and endpoint configuration made for
	// this version (the training job's name serves): unique per version,
	// at most 63 letters, digits and '-'. Required.
	Name string
	// ArtifactURI is the model.tar.gz (a Result's ArtifactURI). Required.
	ArtifactURI string
	// Image is the serving container; default DefaultServingImage(Region).
	Image string
	// Environment is the container's environment; nil: TGI serving
	// /opt/ml/model on one GPU, 2,048 input and 4,096 total tokens.
	Environment map[string]string
	// InstanceType and InstanceCount are the serving machines; default one
	// ml.g5.2xlarge.
	InstanceType  string
	InstanceCount int32
	// Variant is the production variant's name; default "AllTraffic".
	Variant string
}

// Rolled is what Roll did.
type Rolled struct {
	// Config is the endpoint configuration the endpoint now serves.
	Config string
	// Previous is the configuration it served before (empty when Roll
	// created the endpoint): Restore(ctx, endpoint, Previous) goes back.
	Previous string
	// Created is true when the endpoint did not exist.
	Created bool
}

// ErrEndpointFailed is an endpoint that did not come to serve the model:
// its creation failed, or SageMaker rolled its update back.
var ErrEndpointFailed = errors.New("SageMaker endpoint roll-out failed")

// Roll makes a SageMaker model of d's artifact and an endpoint
// configuration serving it, then updates d.Endpoint to it (or creates the
// endpoint when there is none), and waits until the endpoint is in
// service on it. SageMaker keeps serving the previous configuration while
// it updates, and returns to it when the update fails: that failure is
// ErrEndpointFailed with SageMaker's reason, and the endpoint still
// serves Previous. Calling Roll again with the same d after an error goes
// on from where it stopped (what exists is kept). It is for the trainer
// to call once the evaluation gate has let the model through.
func (e *Executor) Roll(ctx context.Context, d Deployment) (Rolled, error) {
	if d.Endpoint == "" || d.Name == "" || d.ArtifactURI == "" {
		return Rolled{}, fmt.Errorf("%w: a deployment needs an endpoint, a name and an artifact", ErrConfig)
	}
	if !jobName.MatchString(d.Name) {
		return Rolled{}, fmt.Errorf("%w: %q is not a SageMaker model name", ErrConfig, d.Name)
	}
	if d.Image == "" {
		d.Image = DefaultServingImage(e.cfg.Region)
	}
	if d.Environment == nil {
		d.Environment = defaultServingEnv
	}
	if d.InstanceType == "" {
		d.InstanceType = DefaultServingInstance
	}
	if d.InstanceCount <= 0 {
		d.InstanceCount = 1
	}
	if d.Variant == "" {
		d.Variant = DefaultVariant
	}

	_, err := e.client.CreateModel(ctx, &sagemaker.CreateModelInput{
		ModelName:        aws.String(d.Name),
		ExecutionRoleArn: aws.String(e.cfg.RoleARN),
		PrimaryContainer: &types.ContainerDefinition{
			Image:        aws.String(d.Image),
			ModelDataUrl: aws.String(d.ArtifactURI),
			Environment:  d.Environment,
		},
	})
	if err != nil && !exists(err, func() error {
		_, err := e.client.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String(d.Name)})
		return err
	}) {
		return Rolled{}, fmt.Errorf("create the SageMaker model %s: %w", d.Name, err)
	}
	_, err = e.client.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(d.Name),
		ProductionVariants: []types.ProductionVariant{{
			VariantName:          aws.String(d.Variant),
			ModelName:            aws.String(d.Name),
			InstanceType:         types.ProductionVariantInstanceType(d.InstanceType),
			InitialInstanceCount: aws.Int32(d.InstanceCount),
			InitialVariantWeight: aws.Float32(1),
			// Loading 8B weights takes minutes; the default health check
			// gives up before TGI is ready.
			ContainerStartupHealthCheckTimeoutInSeconds: aws.Int32(900),
		}},
	})
	if err != nil && !exists(err, func() error {
		_, err := e.client.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String(d.Name)})
		return err
	}) {
		return Rolled{}, fmt.Errorf("create the SageMaker endpoint configuration %s: %w", d.Name, err)
	}

	cur, err := e.client.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(d.Endpoint)})
	rolled := Rolled{Config: d.Name}
	switch {
	case isValidation(err):
		// SageMaker answers a ValidationException for an endpoint it does
		// not know ("Could not find endpoint").
		rolled.Created = true
		if _, err := e.client.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{
			EndpointName:       aws.String(d.Endpoint),
			EndpointConfigName: aws.String(d.Name),
		}); err != nil {
			return rolled, fmt.Errorf("create the SageMaker endpoint %s: %w", d.Endpoint, err)
		}
	case err != nil:
		return rolled, fmt.Errorf("describe the SageMaker endpoint %s: %w", d.Endpoint, err)
	case aws.ToString(cur.EndpointConfigName) == d.Name:
		// A Roll before this one got as far as the update.
	default:
		rolled.Previous = aws.ToString(cur.EndpointConfigName)
		if err := e.update(ctx, d.Endpoint, d.Name); err != nil {
			return rolled, err
		}
	}
	return rolled, e.waitInService(ctx, d.Endpoint, d.Name)
}

// Restore puts endpoint back on config (a Rolled's Previous) and waits
// until it serves it: the way back from a model that turned out worse.
func (e *Executor) Restore(ctx context.Context, endpoint, config string) error {
	if endpoint == "" || config == "" {
		return fmt.Errorf("%w: a restore needs an endpoint and a configuration", ErrConfig)
	}
	cur, err := e.client.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(endpoint)})
	if err != nil {
		return fmt.Errorf("describe the SageMaker endpoint %s: %w", endpoint, err)
	}
	if aws.ToString(cur.EndpointConfigName) != config {
		if err := e.update(ctx, endpoint, config); err != nil {
			return err
		}
	}
	return e.waitInService(ctx, endpoint, config)
}

// update asks for endpoint to move to config, once any change in progress
// is over (SageMaker refuses to update an endpoint that is updating).
func (e *Executor) update(ctx context.Context, endpoint, config string) error {
	if err := e.waitSettled(ctx, endpoint); err != nil {
		return err
	}
	if _, err := e.client.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{
		EndpointName:       aws.String(endpoint),
		EndpointConfigName: aws.String(config),
	}); err != nil {
		return fmt.Errorf("update the SageMaker endpoint %s to %s: %w", endpoint, config, err)
	}
	e.log.Info().Str("endpoint", endpoint).Str("config", config).Msg("SageMaker endpoint update started")
	return nil
}

// waitSettled waits until endpoint is neither being created nor updated.
func (e *Executor) waitSettled(ctx context.Context, endpoint string) error {
	_, err := e.poll(ctx, endpoint, func(out *sagemaker.DescribeEndpointOutput) (bool, error) {
		switch out.EndpointStatus {
		case types.EndpointStatusInService:
			return true, nil
		case types.EndpointStatusFailed, types.EndpointStatusDeleting, types.EndpointStatusUpdateRollbackFailed:
			return true, fmt.Errorf("%w: endpoint %s is %s: %s", ErrEndpointFailed, endpoint, out.EndpointStatus, aws.ToString(out.FailureReason))
		}
		return false, nil
	})
	return err
}

// waitInService waits until endpoint is in service on config. In service
// on another configuration means SageMaker rolled the update back.
func (e *Executor) waitInService(ctx context.Context, endpoint, config string) error {
	_, err := e.poll(ctx, endpoint, func(out *sagemaker.DescribeEndpointOutput) (bool, error) {
		switch out.EndpointStatus {
		case types.EndpointStatusInService:
			if got := aws.ToString(out.EndpointConfigName); got != config {
				return true, fmt.Errorf("%w: endpoint %s went back to %s: %s", ErrEndpointFailed, endpoint, got, aws.ToString(out.FailureReason))
			}
			e.log.Info().Str("endpoint", endpoint).Str("config", config).Msg("SageMaker endpoint in service")
			return true, nil
		case types.EndpointStatusFailed, types.EndpointStatusDeleting, types.EndpointStatusUpdateRollbackFailed, types.EndpointStatusOutOfService:
			return true, fmt.Errorf("%w: endpoint %s is %s: %s", ErrEndpointFailed, endpoint, out.EndpointStatus, aws.ToString(out.FailureReason))
		}
		return false, nil
	})
	return err
}

// poll describes endpoint every Config.Poll until done says it is done.
func (e *Executor) poll(ctx context.Context, endpoint string, done func(*sagemaker.DescribeEndpointOutput) (bool, error)) (*sagemaker.DescribeEndpointOutput, error) {
	for {
		out, err := e.client.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(endpoint)})
		if err != nil {
			return nil, fmt.Errorf("describe the SageMaker endpoint %s: %w", endpoint, err)
		}
		if ok, err := done(out); ok {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("wait for the SageMaker endpoint %s (%s): %w", endpoint, out.EndpointStatus, context.Cause(ctx))
		case <-time.After(e.cfg.Poll):
		}
	}
}

// exists tells a creation refused because the resource exists (SageMaker
// says so with a ValidationException, "Cannot create already existing"),
// by describing it rather than reading the message.
func exists(createErr error, describe func() error) bool {
	return isValidation(createErr) && describe() == nil
}

func isValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}
