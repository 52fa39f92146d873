// Package datasets builds the training sets of the learning loop from what
// the warehouse holds: instruction pairs (SFT) and preference triples (DPO)
// from the author's documents and from the ratings of the twin's answers,
// and relevance judgments for the reranker. Every set goes through the
// same filters (lengths, sentence shape, near-duplicates, personal data),
// is split into train and test deterministically by a seed, is written as
// JSONL in the formats trainers read (train.jsonl, test.jsonl and a
// manifest.json), and is recorded in the warehouse with its lineage: which
// documents, ratings and judgments it came from, which model and prompt
// version made it, and what the filters dropped.
//
// A Builder does one build per call of Build; the trainer calls it for a
// trigger, the gateway for POST /v1/datasets (twin dataset build).
package datasets
