//go:build race

package production

// raceEnabled builds the binary of the drain test with -race too.
const raceEnabled = true
