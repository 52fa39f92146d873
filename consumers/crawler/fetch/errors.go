package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Errors a crawler tells apart with errors.Is. Temporary says which failures
// are worth retrying later; every sentinel here is permanent on its own.
var (
	// ErrBlockedAddress: the host resolved to a loopback, private, link-local,
	// cloud-metadata or otherwise non-public address.
	ErrBlockedAddress = errors.New("address not allowed")
	// ErrRobots: robots.txt disallows the URL for our user agent. When
	// robots.txt itself could not be fetched (5xx, unreachable), the error
	// matches ErrRobots too and Temporary reports true.
	ErrRobots = errors.New("disallowed by robots.txt")
	// ErrTooLarge: the body is larger than Config.MaxBodyBytes.
	ErrTooLarge = errors.New("response body too large")
	// ErrContentType: the response's content type is not in Config.AcceptTypes.
	ErrContentType = errors.New("content type not accepted")
	// ErrTooManyRedirects: more than Config.MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrHTTPStatus: a status other than 2xx or a followed redirect. The
	// error is a *StatusError, with the code.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
	// ErrInvalidURL: the URL, or a redirect's target, is not an http or https
	// URL with a host, or carries credentials.
	ErrInvalidURL = errors.New("URL not fetchable")
)

// StatusError reports a response status the fetcher does not accept. It
// matches ErrHTTPStatus.
type StatusError struct {
	Code int
	// RetryAfter is the server's Retry-After, or 0 if it sent none. It is
	// set when the fetcher gave up waiting because the server asked for a
	// longer pause than Config.MaxRetryDelay: the caller can retry after it.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP status %d %s", e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Is makes every *StatusError match ErrHTTPStatus.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// temporaryStatus reports whether a status is worth retrying later.
func temporaryStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// transientError marks an error that would otherwise look permanent (an
// unreachable robots.txt matches ErrRobots) as temporary.
type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

// Temporary reports whether err is worth retrying later: timeouts, 408, 429
// and 5xx statuses, connection resets and refusals, temporary DNS failures,
// and an unreachable robots.txt. Everything else, including every sentinel
// of this package on its own and a canceled context, is permanent.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.As(err, new(transientError)) {
		return true
	}
	if se := (*StatusError)(nil); errors.As(err, &se) {
		return temporaryStatus(se.Code)
	}
	for _, permanent := range []error{
		ErrBlockedAddress, ErrRobots, ErrTooLarge, ErrContentType,
		ErrTooManyRedirects, ErrInvalidURL, context.Canceled,
	} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if de := (*net.DNSError)(nil); errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, transient := range []error{
		syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		io.ErrUnexpectedEOF, io.EOF, // the server closed the connection mid-response
	} {
		if errors.Is(err, transient) {
			return true
		}
	}
	return false
}
