// Package codec is the fast path of schemas.Decode and schemas.Encode: it
// reads a body straight into its Go type in one pass, checking the schema's
// keywords as it goes, and writes json.Marshal's exact bytes without
// json.Marshal's reflection. Messages carry whole documents, and the
// general path (the JSON Schema library, then encoding/json) made decoding
// and encoding the largest cost of the feature pipeline.
//
// It lives apart from package schemas so that schemas reads as the
// contract (types, schema files, subjects, headers) and this package as an
// optimisation of it, which must never change a result: a decoder only
// ever accepts what the general path would accept, with the same value,
// and leaves everything else to it; an encoder writes json.Marshal's bytes
// or gives up. It is internal to schemas because those promises are only
// checked against schemas' own general path and message types.
//
// Its strings are read and written by package internal/jsonfast, which the
// vector store's payload encoder shares.
package codec
