#include "textflag.h"

// The vow kernels' common parts. SUMS_START sets the row pointers (SI the first, BX bytes apart), loads the
// four shifts (from AX) and zeroes the sums: Y0-Y3 Σd of rows 0-3, Y12-Y15 Σd·d. SUMS_ADD adds the four rows' d in
// Y4-Y7 (the widened elements, less the shifts Y8-Y11). SUMS_END stores them to out (DI).
#define SUMS_START \
	ROWS4; \
	VBROADCASTSD (AX), Y8; \
	VBROADCASTSD 8(AX), Y9; \
	VBROADCASTSD 16(AX), Y10; \
	VBROADCASTSD 24(AX), Y11; \
	VXORPD Y0, Y0, Y0; \
	VXORPD Y1, Y1, Y1; \
	VXORPD Y2, Y2, Y2; \
	VXORPD Y3, Y3, Y3; \
	VXORPD Y12, Y12, Y12; \
	VXORPD Y13, Y13, Y13; \
	VXORPD Y14, Y14, Y14; \
	VXORPD Y15, Y15, Y15; \
	XORQ DX, DX

#define SUMS_ADD \
	VSUBPD Y8, Y4, Y4; \
	VSUBPD Y9, Y5, Y5; \
	VSUBPD Y10, Y6, Y6; \
	VSUBPD Y11, Y7, Y7; \
	VADDPD Y4, Y0, Y0; \
	VADDPD Y5, Y1, Y1; \
	VADDPD Y6, Y2, Y2; \
	VADDPD Y7, Y3, Y3; \
	VFMADD231PD Y4, Y4, Y12; \
	VFMADD231PD Y5, Y5, Y13; \
	VFMADD231PD Y6, Y6, Y14; \
	VFMADD231PD Y7, Y7, Y15

#define SUMS_END \
	VMOVUPD Y0, (DI); \
	VMOVUPD Y1, 32(DI); \
	VMOVUPD Y2, 64(DI); \
	VMOVUPD Y3, 96(DI); \
	VMOVUPD Y12, 128(DI); \
	VMOVUPD Y13, 160(DI); \
	VMOVUPD Y14, 192(DI); \
	VMOVUPD Y15, 224(DI); \
	VZEROUPPER


// Four rows: R8, R9, R10 point BX bytes apart after SI.
#define ROWS4 \
	LEAQ (SI)(BX*1), R8; \
	LEAQ (R8)(BX*1), R9; \
	LEAQ (R9)(BX*1), R10

// WIDEN4 loads 4 BF16 values of each row at DX into Y4-Y7 as float64 (widened exactly).
#define WIDEN4 \
	VPMOVZXWD (SI)(DX*1), X4; \
	VPMOVZXWD (R8)(DX*1), X5; \
	VPMOVZXWD (R9)(DX*1), X6; \
	VPMOVZXWD (R10)(DX*1), X7; \
	VPSLLD $16, X4, X4; \
	VPSLLD $16, X5, X5; \
	VPSLLD $16, X6, X6; \
	VPSLLD $16, X7, X7; \
	VCVTPS2PD X4, Y4; \
	VCVTPS2PD X5, Y5; \
	VCVTPS2PD X6, Y6; \
	VCVTPS2PD X7, Y7

// The peaks kernels: PEAKS_START copies Y0 (the first element, broadcast) to the 8 accumulators
// (Y0-Y3 maxima, Y4-Y7 minima) and clears the NaN flags Y8, Y9; PEAKS_ADD takes 32 floats in
// Y10-Y13; PEAKS_END reduces the lanes and stores them to out (DI).
#define PEAKS_START \
	VMOVAPS Y0, Y1; \
	VMOVAPS Y0, Y2; \
	VMOVAPS Y0, Y3; \
	VMOVAPS Y0, Y4; \
	VMOVAPS Y0, Y5; \
	VMOVAPS Y0, Y6; \
	VMOVAPS Y0, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9

#define PEAKS_ADD \
	VMAXPS Y10, Y0, Y0; \
	VMAXPS Y11, Y1, Y1; \
	VMAXPS Y12, Y2, Y2; \
	VMAXPS Y13, Y3, Y3; \
	VMINPS Y10, Y4, Y4; \
	VMINPS Y11, Y5, Y5; \
	VMINPS Y12, Y6, Y6; \
	VMINPS Y13, Y7, Y7; \
	VCMPPS $3, Y11, Y10, Y14; \
	VCMPPS $3, Y13, Y12, Y15; \
	VORPS Y14, Y8, Y8; \
	VORPS Y15, Y9, Y9

#define PEAKS_END \
	VMAXPS Y1, Y0, Y0; \
	VMAXPS Y3, Y2, Y2; \
	VMAXPS Y2, Y0, Y0; \
	VMINPS Y5, Y4, Y4; \
	VMINPS Y7, Y6, Y6; \
	VMINPS Y6, Y4, Y4; \
	VORPS Y9, Y8, Y8; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y4, 32(DI); \
	VMOVUPS Y8, 64(DI); \
	VZEROUPPER

// The L1 kernels: L1_START sets the mask of the sign bit off (Y15) and clears the sums Y0-Y3 of
// rows 0-3; L1_ADD adds |Y4|-|Y7|; L1_END stores the sums to out (DI).
#define L1_START \
	MOVQ $0x7fffffffffffffff, AX; \
	MOVQ AX, X15; \
	VPBROADCASTQ X15, Y15; \
	VXORPD Y0, Y0, Y0; \
	VXORPD Y1, Y1, Y1; \
	VXORPD Y2, Y2, Y2; \
	VXORPD Y3, Y3, Y3; \
	XORQ DX, DX

#define L1_ADD \
	VANDPD Y15, Y4, Y4; \
	VANDPD Y15, Y5, Y5; \
	VANDPD Y15, Y6, Y6; \
	VANDPD Y15, Y7, Y7; \
	VADDPD Y4, Y0, Y0; \
	VADDPD Y5, Y1, Y1; \
	VADDPD Y6, Y2, Y2; \
	VADDPD Y7, Y3, Y3

#define L1_END \
	VMOVUPD Y0, (DI); \
	VMOVUPD Y1, 32(DI); \
	VMOVUPD Y2, 64(DI); \
	VMOVUPD Y3, 96(DI); \
	VZEROUPPER

// AVX2 kernels for kernels_amd64.go. Each keeps the Go kernel's order of floating-point operations
// lane for lane (see there), so its results equal the Go kernel's bit for bit.

// func peaksAVX2(p *float32, blocks int, out *[24]float32)
// blocks ≥ 1 blocks of 32 floats. out: 8 lanes of maxima, 8 of minima, 8 nonzero where a NaN was seen.
TEXT ·peaksAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ out+16(FP), DI
	VBROADCASTSS (SI), Y0
	PEAKS_START

peaksloop:
	VMOVUPS (SI), Y10
	VMOVUPS 32(SI), Y11
	VMOVUPS 64(SI), Y12
	VMOVUPS 96(SI), Y13
	PEAKS_ADD
	ADDQ $128, SI
	DECQ CX
	JNZ peaksloop

	PEAKS_END
	RET

// func l1Rows4AVX2(p *float32, stride int, quads int, out *[16]float64)
// Four rows at p + r·stride floats, quads ≥ 1 groups of 4 elements each. out[4r+k] is row r's
// Σ|x| over its elements k, k+4, k+8, … in that order: the Go kernel's accumulator a_k.
TEXT ·l1Rows4AVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ quads+16(FP), CX
	MOVQ out+24(FP), DI
	ROWS4
	L1_START

l1loop:
	VCVTPS2PD (SI)(DX*1), Y4
	VCVTPS2PD (R8)(DX*1), Y5
	VCVTPS2PD (R9)(DX*1), Y6
	VCVTPS2PD (R10)(DX*1), Y7
	L1_ADD
	ADDQ $16, DX
	DECQ CX
	JNZ l1loop

	L1_END
	RET

// func sumsRows4AVX2(p *float32, stride int, quads int, shift *[4]float64, out *[32]float64)
// Four rows at p + r·stride floats, quads ≥ 1 groups of 4 elements each; shift[r] is row r's shift.
// With d = x − shift: out[4r+k] is row r's Σd over its elements k, k+4, k+8, … in that order, and
// out[16+4r+k] its Σd·d likewise, each square added by a fused multiply-add: the Go kernel's s_k, q_k.
TEXT ·sumsRows4AVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ quads+16(FP), CX
	MOVQ shift+24(FP), AX
	MOVQ out+32(FP), DI
	SUMS_START

sumsloop:
	VCVTPS2PD (SI)(DX*1), Y4
	VCVTPS2PD (R8)(DX*1), Y5
	VCVTPS2PD (R9)(DX*1), Y6
	VCVTPS2PD (R10)(DX*1), Y7
	SUMS_ADD
	ADDQ $16, DX
	DECQ CX
	JNZ sumsloop

	SUMS_END
	RET

// func widenBF16AVX2(dst *float32, src *uint16, blocks int)
// blocks ≥ 1 blocks of 16 BF16 values, each widened exactly to float32 (its bits shifted left 16).
TEXT ·widenBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX

widenloop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ widenloop
	VZEROUPPER
	RET

// func peaksBF16AVX2(p *uint16, blocks int, out *[24]float32)
// peaksAVX2 over BF16 values, each widened in its register: blocks ≥ 1 blocks of 32.
TEXT ·peaksBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ out+16(FP), DI
	VPMOVZXWD (SI), Y0
	VPSLLD $16, Y0, Y0
	PEAKS_START

peaksbf16loop:
	VPMOVZXWD (SI), Y10
	VPMOVZXWD 16(SI), Y11
	VPMOVZXWD 32(SI), Y12
	VPMOVZXWD 48(SI), Y13
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	PEAKS_ADD
	ADDQ $64, SI
	DECQ CX
	JNZ peaksbf16loop

	PEAKS_END
	RET

// func l1Rows4BF16AVX2(p *uint16, stride int, quads int, out *[16]float64)
// l1Rows4AVX2 over BF16 values, each widened in its register; stride in elements.
TEXT ·l1Rows4BF16AVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $1, BX
	MOVQ quads+16(FP), CX
	MOVQ out+24(FP), DI
	ROWS4
	L1_START

l1bf16loop:
	WIDEN4
	L1_ADD
	ADDQ $8, DX
	DECQ CX
	JNZ l1bf16loop

	L1_END
	RET

// func sumsRows4BF16AVX2(p *uint16, stride int, quads int, shift *[4]float64, out *[32]float64)
// sumsRows4AVX2 over BF16 values, each widened in its register; stride in elements.
TEXT ·sumsRows4BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $1, BX
	MOVQ quads+16(FP), CX
	MOVQ shift+24(FP), AX
	MOVQ out+32(FP), DI
	SUMS_START

sumsbf16loop:
	WIDEN4
	SUMS_ADD
	ADDQ $8, DX
	DECQ CX
	JNZ sumsbf16loop

	SUMS_END
	RET
