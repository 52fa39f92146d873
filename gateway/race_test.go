//go:build race

package gateway

// raceEnabled is true under the race detector, which changes what memory
// and time cost.
const raceEnabled = true
