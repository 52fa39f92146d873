// Package sagemakertest is what the fakes of SageMaker in twin's tests
// share: a loopback server that a client reaches with static credentials
// (the SDK signs every request with them), errors in the runtime API's
// wire format (each model's test answers in its own container's format),
// and ControlPlane, a fake of SageMaker's own API (training jobs, models,
// endpoints) for the trainer.
package sagemakertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/twin-llm/twin/internal/awsclient"
)

// Serve serves h on loopback until the test ends and points c at it, in
// region, with the access key AKIDTEST.
func Serve(t testing.TB, h http.Handler, c *awsclient.SageMaker, region string) {
	t.Helper()
	c.BaseEndpoint, c.AWS = ServeAPI(t, h, region)
}

// ServeAPI serves h on loopback until the test ends and returns its URL
// (a client's BaseEndpoint) and an AWS configuration in region with the
// access key AKIDTEST.
func ServeAPI(t testing.TB, h http.Handler, region string) (string, *aws.Config) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, &aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
}

// Fail answers as the runtime API fails a call: the status, the error's
// name in X-Amzn-ErrorType, and a JSON message.
func Fail(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

// ErrorType is the error the runtime API names for a status: throttling,
// a model error, an unavailable service, or else an internal failure.
func ErrorType(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "ThrottlingException"
	case http.StatusFailedDependency:
		return "ModelError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	return "InternalFailure"
}
