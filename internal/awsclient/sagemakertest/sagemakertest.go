// Package sagemakertest is what the fakes of the SageMaker runtime API in
// twin's tests share: a loopback server that a client reaches with static
// credentials (the SDK signs every request with them), and errors in the
// API's wire format. Each model's test answers in its own container's
// format.
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
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c.AWS = &aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
	c.BaseEndpoint = srv.URL
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
