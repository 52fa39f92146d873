package schemas

import "time"

// Reasons a consumer gives up on a message, for DeadLetter.Reason and
// HeaderDLQReason.
const (
	// ReasonInvalid: the body did not decode or validate (Decode returned an
	// error matching ErrInvalid). Retrying cannot help.
	ReasonInvalid = "invalid"
	// ReasonMaxDeliveries: the handler kept failing until the consumer's
	// delivery limit.
	ReasonMaxDeliveries = "max_deliveries"
	// ReasonPermanent: the handler reported an error that retrying cannot fix.
	ReasonPermanent = "permanent"
	// ReasonPanic: the handler panicked on the message; a panic on the same
	// input is as certain the next time.
	ReasonPanic = "panic"
)

// DeadLetter is a message a consumer gave up on, with why. The consumer
// runtime publishes it on DLQ(Consumer) and then terminates the original;
// twin dlq lists, retries (republishes Body with Headers on Subject) and
// purges them.
type DeadLetter struct {
	// Consumer is the durable consumer that gave up; it is a subject token.
	Consumer string `json:"consumer"`
	// Reason is a short machine word: one of the Reason constants.
	Reason string `json:"reason"`
	// Error is the human-readable error of the last attempt.
	Error      string    `json:"error,omitempty"`
	Stream     string    `json:"stream,omitempty"`
	Sequence   uint64    `json:"sequence,omitempty"` // the original's stream sequence
	Subject    string    `json:"subject"`            // the original's subject
	Deliveries uint64    `json:"deliveries,omitempty"`
	FailedAt   time.Time `json:"failed_at,omitzero"`
	// Headers are the original message's headers.
	Headers map[string][]string `json:"headers,omitempty"`
	// Body is the original body, byte for byte (base64 in JSON), since it may
	// not even be JSON.
	Body []byte `json:"body,omitempty"`
}

// Schema returns "dead_letter/v1".
func (DeadLetter) Schema() string { return "dead_letter/v1" }
