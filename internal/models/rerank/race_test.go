//go:build race

package rerank

// raceEnabled is true under the race detector, which makes the SciFact
// harness about ten times slower.
const raceEnabled = true
