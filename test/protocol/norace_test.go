//go:build !race

package protocol

// raceEnabled is false: the suite runs without the race detector.
const raceEnabled = false
