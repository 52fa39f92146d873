// Package awsclient holds what twin's SageMaker models (embeddings,
// reranking, generation) share: the endpoint's configuration and the
// runtime client's setup.
package awsclient

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// SageMaker is a SageMaker real-time endpoint and how to reach it through
// the runtime API: what the configurations of twin's SageMaker models have
// in common, embedded in each.
type SageMaker struct {
	// Endpoint is the SageMaker endpoint name. Required.
	Endpoint string
	// Region is the endpoint's AWS region; empty: the AWS configuration's
	// (AWS_REGION, the shared config file).
	Region string
	// TargetVariant and InferenceComponent route the request within the
	// endpoint (X-Amzn-SageMaker-Target-Variant and
	// X-Amzn-SageMaker-Inference-Component); both optional.
	TargetVariant      string
	InferenceComponent string
	// MaxAttempts is how many times the SDK tries a request (throttling,
	// 5xx and connection errors are retried with jittered backoff); each
	// model sets its default.
	MaxAttempts int
	// AWS is the SDK configuration (credentials, region, HTTP client);
	// nil: the default chain (environment, shared files, SSO, IMDS or the
	// task role).
	AWS *aws.Config
	// BaseEndpoint replaces the SageMaker runtime URL (a VPC endpoint, or
	// a test server).
	BaseEndpoint string
}

// NewSageMakerRuntime returns the client of c. It fails only when c.AWS
// is nil and the default AWS configuration cannot be loaded; credentials
// themselves are resolved, and checked, on the first call.
func NewSageMakerRuntime(c SageMaker) (*sagemakerruntime.Client, error) {
	awsCfg, err := Load(c.Region, c.AWS)
	if err != nil {
		return nil, err
	}
	return sagemakerruntime.NewFromConfig(awsCfg, func(o *sagemakerruntime.Options) {
		if c.Region != "" {
			o.Region = c.Region
		}
		if c.BaseEndpoint != "" {
			o.BaseEndpoint = aws.String(c.BaseEndpoint)
		}
		if c.MaxAttempts > 0 {
			o.RetryMaxAttempts = c.MaxAttempts
		}
		o.HTTPClient = readOnlyBodies{o.HTTPClient}
	}), nil
}

// readOnlyBodies hands the HTTP client request bodies that can only be
// read. The SDK (smithy-go v1.28.9) closes a request's body as soon as
// the response's headers arrive, and its body's WriteTo then fails with
// io.EOF. net/http, which after sending the declared length checks that
// the body has nothing more, may make that check after the response came
// (a server answers once it has read the length): through WriteTo it gets
// the error and closes the connection, under a response still being
// read. A streamed answer then broke off with "use of closed network
// connection". Read after the close reports a clean end.
type readOnlyBodies struct{ sagemakerruntime.HTTPClient }

func (c readOnlyBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.HTTPClient.Do(r)
}

// Load returns a copy of cfg, or when cfg is nil the default AWS
// configuration (environment, shared files, SSO, IMDS or the task role) in
// region (empty: the configuration's own). Every client twin builds starts
// from it; each then applies its own region, endpoint and retries.
func Load(region string, cfg *aws.Config) (aws.Config, error) {
	if cfg != nil {
		return cfg.Copy(), nil
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	// Loading reads environment variables and files only; nothing here
	// waits on the network, so no caller context is needed.
	loaded, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return loaded, nil
}

// Label names the endpoint, with the inference component or else the
// variant the requests are routed to.
func (c SageMaker) Label() string {
	switch {
	case c.InferenceComponent != "":
		return c.Endpoint + "/" + c.InferenceComponent
	case c.TargetVariant != "":
		return c.Endpoint + "/" + c.TargetVariant
	}
	return c.Endpoint
}

// InvokeJSON is the input of an InvokeEndpoint call that sends body to the
// endpoint as JSON, routed as c says, and asks for JSON back.
func (c SageMaker) InvokeJSON(body []byte) *sagemakerruntime.InvokeEndpointInput {
	in := &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String(c.Endpoint),
		Body:         body,
		ContentType:  aws.String("application/json"),
		Accept:       aws.String("application/json"),
	}
	in.TargetVariant, in.InferenceComponentName = c.Route()
	return in
}

// Route is the routing of an invocation's input (TargetVariant and
// InferenceComponentName): nil for what is not set.
func (c SageMaker) Route() (variant, component *string) {
	if c.TargetVariant != "" {
		variant = aws.String(c.TargetVariant)
	}
	if c.InferenceComponent != "" {
		component = aws.String(c.InferenceComponent)
	}
	return variant, component
}
