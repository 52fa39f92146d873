package schemas

// Headers every twin message carries.
const (
	// HeaderMsgID is JetStream's deduplication key. Producers derive it from the
	// source (a URL, a document id and revision, a request id and sequence),
	// never from a random number, so a republished message is dropped inside
	// the stream's duplicate window.
	HeaderMsgID = "Nats-Msg-Id"

	// HeaderSchema names the body's schema as "<type>/v<N>", the value of the
	// body type's Schema method. It lets a tool or a mixed subject (chat
	// replies carry tokens and a final answer) pick the type before decoding.
	HeaderSchema = "Twin-Schema"

	// HeaderTraceID carries the trace a message belongs to, so the steps of one
	// crawl or one chat request can be followed across components.
	HeaderTraceID = "Twin-Trace-Id"

	// HeaderOriginTime is the time, in RFC 3339 with nanoseconds
	// (time.RFC3339Nano), of the change that started the chain of messages: a
	// crawl request or a warehouse write. Each stage copies it forward
	// unchanged; freshness is measured from it to the moment a document
	// becomes searchable.
	HeaderOriginTime = "Twin-Origin-Time"
)

// Headers of a message in the dead-letter stream (subject DLQ(consumer)). They
// repeat what the DeadLetter body says, so an operator can filter dead letters
// with a NATS client without decoding bodies.
const (
	// HeaderDLQReason is a short machine word for why the consumer gave up:
	// "invalid" (the body did not decode or validate), "max_deliveries" (it
	// kept failing until the delivery limit), "permanent" (the handler said
	// retrying cannot help). See the Reason constants.
	HeaderDLQReason = "Twin-Dlq-Reason"

	// HeaderDLQError is the human-readable error of the last failed attempt.
	HeaderDLQError = "Twin-Dlq-Error"

	// HeaderDLQConsumer is the durable consumer that gave up on the message.
	HeaderDLQConsumer = "Twin-Dlq-Consumer"

	// HeaderDLQStream is the stream the original message was stored in.
	HeaderDLQStream = "Twin-Dlq-Stream"

	// HeaderDLQSequence is the original message's stream sequence, in decimal,
	// so it can be fetched again or compared with the stream's state.
	HeaderDLQSequence = "Twin-Dlq-Sequence"

	// HeaderDLQSubject is the subject the original message was published on,
	// where a retry republishes it.
	HeaderDLQSubject = "Twin-Dlq-Subject"

	// HeaderDLQDeliveries is how many times the message was delivered to the
	// consumer before it gave up, in decimal.
	HeaderDLQDeliveries = "Twin-Dlq-Deliveries"
)
