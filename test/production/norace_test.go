//go:build !race

package production

// raceEnabled is false: the drain test's binary is built without -race.
const raceEnabled = false
