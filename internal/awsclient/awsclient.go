// Package awsclient builds the SageMaker runtime client that twin's
// SageMaker models (embeddings, reranking, generation) share the setup of.
package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// SageMaker is how to reach SageMaker's runtime API.
type SageMaker struct {
	// Region is the endpoint's AWS region; empty: the AWS configuration's
	// (AWS_REGION, the shared config file).
	Region string
	// MaxAttempts is how many times the SDK tries a request (throttling,
	// 5xx and connection errors are retried with jittered backoff).
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
	var awsCfg aws.Config
	if c.AWS != nil {
		awsCfg = c.AWS.Copy()
	} else {
		var opts []func(*config.LoadOptions) error
		if c.Region != "" {
			opts = append(opts, config.WithRegion(c.Region))
		}
		// Loading reads environment variables and files only; nothing
		// here waits on the network, so no caller context is needed.
		loaded, err := config.LoadDefaultConfig(context.Background(), opts...)
		if err != nil {
			return nil, fmt.Errorf("load the AWS configuration: %w", err)
		}
		awsCfg = loaded
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
	}), nil
}
