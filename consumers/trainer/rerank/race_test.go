//go:build race

package rerank

// raceEnabled is true under the race detector, which makes indexing
// SciFact about ten times slower.
const raceEnabled = true
