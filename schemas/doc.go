// Package schemas is the contract between twin's components: the Go type of
// every message that crosses NATS JetStream, the JSON Schema beside each type,
// the subjects the messages travel on and the headers they carry.
//
// Every body is a JSON object. Each Go type names its schema with a Schema
// method ("crawl_request/v1"), which producers also put in the Twin-Schema
// header. The schema files are embedded in the binary, so a consumer validates
// exactly what this package was built with, and tools outside Go can read the
// same files (see SchemaFor).
//
// A consumer decodes a body with Decode, which validates it against the
// schema first and only then fills the Go value. For the messages of the
// feature pipeline both happen in one pass (package schemas/internal/codec,
// which only ever accepts what the validator would, and leaves the rest to
// it); Encode likewise writes json.Marshal's bytes without its reflection. Every body Decode refuses
// yields an error matching ErrInvalid, so the consumer runtime can tell a
// poison message (terminate it, write it to the dead-letter stream) from a
// transient failure (retry it) without reading error strings.
//
// # Compatibility
//
// Schemas allow properties they do not name. A newer producer may add an
// optional field to a message without a new schema version, and older
// consumers keep accepting it; they simply ignore the field. A change that
// removes or renames a field, makes one required, or narrows its type needs a
// new version (".../v2"), published beside the old one until every consumer
// has moved.
//
// The one exception: a property whose name differs from a known field only in
// letter case (for example "URL" beside "url") is refused, because
// encoding/json would match it to the field case-insensitively and so decode a
// value the schema never checked.
package schemas
