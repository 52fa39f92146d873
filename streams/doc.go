// Package streams carries every twin message: the JetStream topology as
// data, the embedded nats-server, the consumer runtime that owns acks,
// retries, dead letters, metrics, concurrency and shutdown, the publisher
// that stamps the twin headers, and the lag collector behind `twin status`.
//
// A consumer is a Handler; it never touches Ack, Nak or Term. The runtime
// keeps these invariants:
//
//   - a message is acked only after its handler returned nil;
//   - a transient failure is retried with NakWithDelay, the delay growing
//     with the delivery count;
//   - a permanent failure (a body that does not decode or validate, or an
//     error wrapped with Permanent) is dead-lettered at once, never retried;
//   - a message that still fails on its MaxDeliver-th delivery, or arrives
//     after it (the process died while handling it), is dead-lettered;
//   - a message is terminated only after its dead letter is stored: if the
//     DLQ publish fails, the message is retried instead;
//   - on shutdown, fetching stops, buffered messages are released at once
//     (Nak without delay) and in-flight handlers finish and are acked.
package streams
