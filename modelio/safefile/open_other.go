//go:build !unix

package safefile

// openFlags is empty where FIFOs do not block an open (Windows named pipes live outside the folder
// tree).
const openFlags = 0
