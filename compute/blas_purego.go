//go:build !cgo || !(linux || darwin) || noblas

package compute

// Without cgo (or with the noblas tag) the pure Go backend keeps simplego's own matrix kernels; see
// blas_cgo.go for why a platform BLAS is used otherwise.

// blasName names the matrix kernel in the device's description.
const blasName = ""
