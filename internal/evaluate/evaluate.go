// Package evaluate measures the twin's quality on judged data, through
// the same paths users take. Each evaluation is a file of its own — a
// function, its config and its result — beside the readers of the data it
// is judged on (beir.go): Retrieval scores the ranking of search against
// BEIR judgments (nDCG, recall, MRR); Answers scores the chat's answers
// (groundedness, citations, refusals, latency, an optional LLM judge).
package evaluate
