package prune

// CopyError is copyError, for the tests of package prune_test.
var CopyError = copyError
