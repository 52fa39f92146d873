package streams

import (
	"errors"
	"time"
)

// ErrPermanent marks a failure that no retry can fix. The runtime
// dead-letters such a message on its first delivery.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that the runtime dead-letters the message instead
// of retrying it. errors.Is(Permanent(err), err) still holds.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{ErrPermanent, e.err} }

// RetryAfter wraps a transient err with the delay the caller knows is right
// (an HTTP Retry-After, say), overriding the runtime's growing backoff.
func RetryAfter(err error, delay time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, delay: delay}
}

type retryError struct {
	err   error
	delay time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }
