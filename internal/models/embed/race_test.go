//go:build race

package embed

// raceEnabled is true under the race detector, which makes the SciFact
// harness's arithmetic about ten times slower.
const raceEnabled = true
