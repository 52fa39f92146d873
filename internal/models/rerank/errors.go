package rerank

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrResponse is a server answer that does not hold exactly one finite
// score for each text sent: not JSON of the expected shape, an index
// missing, repeated or out of range, or a score that is missing.
var ErrResponse = errors.New("rerank: malformed response")

// StatusError is a reranking server's answer with a status outside 2xx,
// after any retries. Callers tell a rejected request (4xx: a bad key, a
// text too long) from an unavailable server (429, 5xx) by StatusCode.
type StatusError struct {
	// Server is the URL called, or the SageMaker endpoint's name.
	Server     string
	StatusCode int
	// Body is the start of the answer's body, at most errorBodyBytes, for
	// the server's own explanation.
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %q", e.Server, e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// errorBodyBytes bounds the part of an error body kept in a StatusError:
// enough for a server's message, not a page of HTML.
const errorBodyBytes = 512
