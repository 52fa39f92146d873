package awsclient

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// lateReader is an HTTP client that answers at once and keeps the
// request's body, the way net/http may still be reading it after the
// response's headers came back.
type lateReader struct{ body io.ReadCloser }

func (c *lateReader) Do(r *http.Request) (*http.Response, error) {
	c.body = r.Body
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`[0.5]`)),
		Request:    r,
	}, nil
}

// The check net/http makes after sending a body of declared length (is
// there more?) must see a clean end even when the SDK has closed the body
// by then; an error there makes net/http close the connection under the
// response.
func TestRequestBodyReadAfterTheSDKClosedItEndsCleanly(t *testing.T) {
	t.Parallel()
	hc := &lateReader{}
	c, err := NewSageMakerRuntime(SageMaker{
		Endpoint:     "twin-embed",
		BaseEndpoint: "http://127.0.0.1:1",
		MaxAttempts:  1,
		AWS: &aws.Config{
			Region:      "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			HTTPClient:  hc,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String("twin-embed"),
		Body:         []byte(`{"inputs":["a"]}`),
		ContentType:  aws.String("application/json"),
	}); err != nil {
		t.Fatal(err)
	}
	if hc.body == nil {
		t.Fatal("the request had no body")
	}
	if n, err := io.Copy(io.Discard, hc.body); n != 0 || err != nil {
		t.Errorf("reading the closed body: %d bytes, %v; want 0 bytes and a clean end", n, err)
	}
}
