// Package featurizer turns warehouse documents into the chunks the
// embedder indexes: Clean normalizes a document's text according to its
// category, and Chunk cuts the cleaned text into overlapping windows
// counted in the embedding model's tokens (all-MiniLM-L6-v2 word pieces,
// from package internal/tokenizer).
//
// Both are pure functions: same input, same output, no state. The
// featurizer consumer applies them to every change the CDC producer
// publishes and records the ChunkParams in each embed job, so that chunks
// cut with other settings can be recognized and rebuilt.
package featurizer
