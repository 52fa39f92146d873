// Package embed turns chunk texts into the vectors the vector store keeps:
// a dense embedding from a model (the embedded hashed-feature model, an
// OpenAI-compatible /v1/embeddings server, or a SageMaker endpoint) and a
// sparse BM25 vector computed locally. No weights are ever downloaded: a
// real model is always a server the operator points at.
//
// # Models
//
//   - Hashed (NewHashed): the embedded default dense model. Word stems,
//     word bigrams and character n-grams, hashed into a fixed number of
//     dimensions, weighted by a general-English frequency prior. It is
//     deterministic and needs nothing but this package.
//   - BM25 (NewBM25): the sparse model. Lowercase word tokens, a stop
//     list, Porter stems, hashed term ids; chunk values are BM25's
//     saturated term frequencies and the store applies the IDF.
//   - OpenAI (NewOpenAI): any OpenAI-compatible embeddings server (OpenAI,
//     text-embeddings-inference, vLLM, Ollama), through openai-go.
//   - SageMaker (NewSageMaker): a SageMaker real-time endpoint serving a
//     feature-extraction model (the TEI container), through aws-sdk-go-v2.
//
// Tokens and Stem are the text analysis BM25 and Hashed share; NDCG,
// Recall and MRR are the retrieval metrics `twin eval retrieval` reports.
//
// # Quality
//
// README.md has what each model scores on BEIR SciFact, how it was
// measured (quality_test.go), and what the fake servers in the client
// tests prove and do not prove.
package embed
