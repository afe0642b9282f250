//go:build race

package protocol

// raceEnabled builds the spawned gateway with -race too, so the suite's
// traffic also hunts data races in it.
const raceEnabled = true
