//go:build cgo && (linux || darwin) && !noblas

package compute

/*
#cgo linux pkg-config: openblas
#cgo darwin CFLAGS: -DACCELERATE_NEW_LAPACK
#cgo darwin LDFLAGS: -framework Accelerate
#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

// sgemm is row-major C[m,n] = op(A)·op(B), with plain ints so that cgo sees one signature whatever
// integer type the platform's cblas.h uses.
static void sgemm(int transA, int transB, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float *c, int ldc) {
	cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
	            m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

static void blasSingleThreaded(void) {
#ifndef __APPLE__
	openblas_set_num_threads(1);
#endif
}
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
)

// Why a platform BLAS, through a patched simplego: GoMLX v0.26's pure Go backend multiplies float32
// matrices with a plain-Go block kernel at about 7 GFLOP/s per core where OpenBLAS's assembly kernels
// do about 65 on the same core, and the matrix products are three quarters of a forward pass. simplego
// has no public way to replace its DotGeneral executor, so third_party/gomlx carries a copy of the
// module with one small hook (SetFloat32DotGeneral; see its PATCH.md), and this file installs OpenBLAS
// (Debian's libopenblas-dev) or Apple's Accelerate behind it. The app needs cgo anyway (Fyne), so this
// costs no new toolchain; a build without cgo (the nogui build with CGO_ENABLED=0) or with the noblas
// tag keeps simplego's own kernels (blas_purego.go). The XLA CPU plugin would be as fast but is a
// separate, user-installed download, which a lecturer's laptop does not have.
//
// OpenBLAS runs single-threaded and this file splits each product across the cores itself: simplego
// may run two products at once, and two multi-threaded OpenBLAS calls at once would oversubscribe the
// cores; blasSlots keeps the number of running kernels at the number of cores.

// blasName names the matrix kernel in the device's description.
const blasName = "OpenBLAS/Accelerate"

var blasSlots = make(chan struct{}, runtime.NumCPU())

func init() {
	C.blasSingleThreaded()
	simplego.SetFloat32DotGeneral(blasDotGeneral)
}

// blasTask is one sgemm call: rows r0..r1 of batch entry b.
type blasTask struct{ b, r0, r1 int }

// blasDotGeneral runs a float32 DotGeneral whose operands are row-major matrices after their leading
// batch axes (contracting axes last or right after the batch axes, on either side) as one sgemm per
// batch entry and row range. Other layouts are left to simplego.
func blasDotGeneral(lhs []float32, lhsDims, lhsContracting, lhsBatch []int,
	rhs []float32, rhsDims, rhsContracting, rhsBatch []int, out []float32) bool {
	batch, m, k, transA, ok := gemmOperand(lhsDims, lhsContracting, lhsBatch)
	if !ok {
		return false
	}
	rbatch, n, rk, rhsContractingFirst, ok := gemmOperand(rhsDims, rhsContracting, rhsBatch)
	if !ok || rbatch != batch || rk != k || !sameOrder(lhsDims, lhsContracting, rhsDims, rhsContracting) {
		return false
	}
	// lhs block is [m,k] (or [k,m] when transA); rhs block is [n,k] (or [k,n]): C = A·Bᵀ unless the
	// rhs has its contracting axes first.
	transB := !rhsContractingFirst
	lda, ldb := k, k
	if transA {
		lda = m
	}
	if !transB {
		ldb = n
	}
	if len(lhs) == 0 || len(rhs) == 0 || len(out) == 0 {
		return false
	}
	// Split into about two tasks per core, rows in multiples of 16, unless the product is small.
	workers := cap(blasSlots)
	parts := 1
	if flops := 2 * batch * m * n * k; flops >= 1<<22 && batch < 2*workers {
		parts = min((2*workers+batch-1)/batch, max(1, m/16))
	}
	tasks := make([]blasTask, 0, batch*parts)
	for b := range batch {
		step := (m + parts - 1) / parts
		for r0 := 0; r0 < m; r0 += step {
			tasks = append(tasks, blasTask{b, r0, min(m, r0+step)})
		}
	}
	run := func(t blasTask) {
		a := unsafe.Pointer(&lhs[t.b*m*k+t.r0*k])
		if transA {
			a = unsafe.Pointer(&lhs[t.b*m*k+t.r0])
		}
		blasSlots <- struct{}{}
		C.sgemm(C.int(b2i(transA)), C.int(b2i(transB)), C.int(t.r1-t.r0), C.int(n), C.int(k),
			(*C.float)(a), C.int(lda), (*C.float)(unsafe.Pointer(&rhs[t.b*n*k])), C.int(ldb),
			(*C.float)(unsafe.Pointer(&out[t.b*m*n+t.r0*n])), C.int(n))
		<-blasSlots
	}
	if len(tasks) == 1 {
		run(tasks[0])
		return true
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(tasks); i = int(next.Add(1)) - 1 {
				run(tasks[i])
			}
		}()
	}
	wg.Wait()
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
