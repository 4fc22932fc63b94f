//go:build !purego

#include "textflag.h"

// Written by hand (no generator); the comments give the algorithm.
//
// The RBF kernels: for blocks of eight support vectors (layout in batch.go)
// they add dual * exp(negGamma * ||z - sv||^2) into two vector accumulators
// per row and store their sum, reduced to four lanes, in out. zb holds each
// feature of z broadcast eight times. The exponential is exp.go's algorithm,
// with FMA; its polynomial is evaluated as pairs (c_2k + c_2k+1 r) combined by
// Horner's rule in r^2, which halves the dependency chain. Every row goes
// through exactly the same operations in every kernel of one instruction set,
// so one-row and two-row calls give bit-identical results.
//
// Registers: DI zb or z (R12 the second row's), SI sv, DX dual, BX iterations
// left, R10 bytes per feature row of one block (nf*64), R9 feature offset;
// X15 negGamma, X13 shifter. A chain is one vector of support vectors for
// one row: x/r, t, n/r^2, p, a temporary, a mask, a sum.

// func rbfSumAVX2(zb *float64, nf int, sv *float64, dual *float64, nblk int, negGamma float64, out *[4]float64)
//
// One iteration is one block of eight: lanes 0-3 in chain A, 4-7 in chain B.
TEXT ·rbfSumAVX2(SB), NOSPLIT, $0-56
	MOVQ zb+0(FP), DI
	MOVQ nf+8(FP), R10
	SHLQ $6, R10
	MOVQ sv+16(FP), SI
	MOVQ dual+24(FP), DX
	MOVQ nblk+32(FP), BX
	VBROADCASTSD negGamma+40(FP), Y15
	VMOVUPD expConsts<>+32(SB), Y13
	VXORPD Y11, Y11, Y11
	VXORPD Y10, Y10, Y10

avx2block:
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	XORQ R9, R9

avx2feature:
	VMOVUPD (SI)(R9*1), Y2
	VSUBPD  (DI)(R9*1), Y2, Y2
	VFMADD231PD Y2, Y2, Y0
	VMOVUPD 32(SI)(R9*1), Y3
	VSUBPD  (DI)(R9*1), Y3, Y3
	VFMADD231PD Y3, Y3, Y1
	ADDQ $64, R9
	CMPQ R9, R10
	JLT  avx2feature
	ADDQ R10, SI

	// x = negGamma * distance
	VMULPD Y15, Y0, Y0
	VMULPD Y15, Y1, Y1
	// masks of x < expMin (false for NaN)
	VCMPPD $1, expConsts<>+64(SB), Y0, Y4
	VCMPPD $1, expConsts<>+64(SB), Y1, Y8
	// t = x*log2e + shifter; n = t - shifter
	VMOVUPD expConsts<>+0(SB), Y2
	VMOVUPD expConsts<>+0(SB), Y6
	VFMADD213PD Y13, Y0, Y2
	VFMADD213PD Y13, Y1, Y6
	VSUBPD Y13, Y2, Y3
	VSUBPD Y13, Y6, Y7
	// r = x - n*ln2Hi - n*ln2Lo
	VFMADD231PD expConsts<>+96(SB), Y3, Y0
	VFMADD231PD expConsts<>+96(SB), Y7, Y1
	VFMADD231PD expConsts<>+128(SB), Y3, Y0
	VFMADD231PD expConsts<>+128(SB), Y7, Y1
	// p(r) = sum c_k r^k: pairs (c_2k + c_2k+1 r) by Horner in r^2
	VMULPD Y0, Y0, Y3
	VMULPD Y1, Y1, Y7
	VMOVUPD expConsts<>+192(SB), Y5
	VMOVUPD expConsts<>+192(SB), Y9
	VFMADD213PD expConsts<>+224(SB), Y0, Y5
	VFMADD213PD expConsts<>+224(SB), Y1, Y9
	VMOVUPD expConsts<>+256(SB), Y12
	VMOVUPD expConsts<>+256(SB), Y14
	VFMADD213PD expConsts<>+288(SB), Y0, Y12
	VFMADD213PD expConsts<>+288(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	VMOVUPD expConsts<>+320(SB), Y12
	VMOVUPD expConsts<>+320(SB), Y14
	VFMADD213PD expConsts<>+352(SB), Y0, Y12
	VFMADD213PD expConsts<>+352(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	VMOVUPD expConsts<>+384(SB), Y12
	VMOVUPD expConsts<>+384(SB), Y14
	VFMADD213PD expConsts<>+416(SB), Y0, Y12
	VFMADD213PD expConsts<>+416(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	VMOVUPD expConsts<>+448(SB), Y12
	VMOVUPD expConsts<>+448(SB), Y14
	VFMADD213PD expConsts<>+480(SB), Y0, Y12
	VFMADD213PD expConsts<>+480(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	VMOVUPD expConsts<>+512(SB), Y12
	VMOVUPD expConsts<>+512(SB), Y14
	VFMADD213PD expConsts<>+544(SB), Y0, Y12
	VFMADD213PD expConsts<>+544(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	VMOVUPD expConsts<>+576(SB), Y12
	VMOVUPD expConsts<>+576(SB), Y14
	VFMADD213PD expConsts<>+608(SB), Y0, Y12
	VFMADD213PD expConsts<>+608(SB), Y1, Y14
	VFMADD213PD Y12, Y3, Y5
	VFMADD213PD Y14, Y7, Y9
	// 2^n from the low bits of t
	VPADDQ expConsts<>+160(SB), Y2, Y2
	VPADDQ expConsts<>+160(SB), Y6, Y6
	VPSLLQ $52, Y2, Y2
	VPSLLQ $52, Y6, Y6
	VMULPD Y2, Y5, Y5
	VMULPD Y6, Y9, Y9
	// flush x < expMin to 0
	VANDNPD Y5, Y4, Y5
	VANDNPD Y9, Y8, Y9
	// sums += dual * exp
	VFMADD231PD (DX), Y5, Y11
	VFMADD231PD 32(DX), Y9, Y10
	ADDQ $64, DX
	DECQ BX
	JNZ  avx2block

	VADDPD Y10, Y11, Y11
	MOVQ out+48(FP), R8
	VMOVUPD Y11, (R8)
	VZEROUPPER
	RET

// func rbfSumAVX512(z *float64, nf int, sv *float64, dual *float64, npairs int, negGamma float64, out *[4]float64)
//
// One iteration is two blocks of eight: chain A the first, chain B the second.
// The AVX-512 kernels read z itself (R13 = feature offset in z) and broadcast
// each feature with the instruction's embedded broadcast.
TEXT ·rbfSumAVX512(SB), NOSPLIT, $0-56
	MOVQ z+0(FP), DI
	MOVQ nf+8(FP), R10
	SHLQ $6, R10
	MOVQ sv+16(FP), SI
	MOVQ dual+24(FP), DX
	MOVQ npairs+32(FP), BX
	VBROADCASTSD negGamma+40(FP), Z15
	VBROADCASTSD expConsts<>+32(SB), Z13
	VXORPD Z11, Z11, Z11
	VXORPD Z10, Z10, Z10

avx512pair:
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	XORQ R9, R9
	XORQ R13, R13
	LEAQ (SI)(R10*1), R11

avx512feature:
	VMOVUPD (SI)(R9*1), Z2
	VSUBPD.BCST (DI)(R13*1), Z2, Z2
	VFMADD231PD Z2, Z2, Z0
	VMOVUPD (R11)(R9*1), Z3
	VSUBPD.BCST (DI)(R13*1), Z3, Z3
	VFMADD231PD Z3, Z3, Z1
	ADDQ $8, R13
	ADDQ $64, R9
	CMPQ R9, R10
	JLT  avx512feature
	LEAQ (SI)(R10*2), SI

	// x = negGamma * distance
	VMULPD Z15, Z0, Z0
	VMULPD Z15, Z1, Z1
	// masks of x < expMin (false for NaN)
	VCMPPD.BCST $1, expConsts<>+64(SB), Z0, K1
	VCMPPD.BCST $1, expConsts<>+64(SB), Z1, K2
	// t = x*log2e + shifter; n = t - shifter
	VBROADCASTSD expConsts<>+0(SB), Z2
	VBROADCASTSD expConsts<>+0(SB), Z6
	VFMADD213PD Z13, Z0, Z2
	VFMADD213PD Z13, Z1, Z6
	VSUBPD Z13, Z2, Z3
	VSUBPD Z13, Z6, Z7
	// r = x - n*ln2Hi - n*ln2Lo
	VFMADD231PD.BCST expConsts<>+96(SB), Z3, Z0
	VFMADD231PD.BCST expConsts<>+96(SB), Z7, Z1
	VFMADD231PD.BCST expConsts<>+128(SB), Z3, Z0
	VFMADD231PD.BCST expConsts<>+128(SB), Z7, Z1
	// p(r) = sum c_k r^k: pairs (c_2k + c_2k+1 r) by Horner in r^2
	VMULPD Z0, Z0, Z3
	VMULPD Z1, Z1, Z7
	VBROADCASTSD expConsts<>+192(SB), Z5
	VBROADCASTSD expConsts<>+192(SB), Z9
	VFMADD213PD.BCST expConsts<>+224(SB), Z0, Z5
	VFMADD213PD.BCST expConsts<>+224(SB), Z1, Z9
	VBROADCASTSD expConsts<>+256(SB), Z12
	VBROADCASTSD expConsts<>+256(SB), Z14
	VFMADD213PD.BCST expConsts<>+288(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+288(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VBROADCASTSD expConsts<>+320(SB), Z12
	VBROADCASTSD expConsts<>+320(SB), Z14
	VFMADD213PD.BCST expConsts<>+352(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+352(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VBROADCASTSD expConsts<>+384(SB), Z12
	VBROADCASTSD expConsts<>+384(SB), Z14
	VFMADD213PD.BCST expConsts<>+416(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+416(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VBROADCASTSD expConsts<>+448(SB), Z12
	VBROADCASTSD expConsts<>+448(SB), Z14
	VFMADD213PD.BCST expConsts<>+480(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+480(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VBROADCASTSD expConsts<>+512(SB), Z12
	VBROADCASTSD expConsts<>+512(SB), Z14
	VFMADD213PD.BCST expConsts<>+544(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+544(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VBROADCASTSD expConsts<>+576(SB), Z12
	VBROADCASTSD expConsts<>+576(SB), Z14
	VFMADD213PD.BCST expConsts<>+608(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+608(SB), Z1, Z14
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	// 2^n from the low bits of t
	VPADDQ.BCST expConsts<>+160(SB), Z2, Z2
	VPADDQ.BCST expConsts<>+160(SB), Z6, Z6
	VPSLLQ $52, Z2, Z2
	VPSLLQ $52, Z6, Z6
	VMULPD Z2, Z5, Z5
	VMULPD Z6, Z9, Z9
	// flush x < expMin to 0
	VXORPD Z5, Z5, K1, Z5
	VXORPD Z9, Z9, K2, Z9
	// sums += dual * exp
	VFMADD231PD (DX), Z5, Z11
	VFMADD231PD 64(DX), Z9, Z10
	ADDQ $128, DX
	DECQ BX
	JNZ  avx512pair

	VADDPD Z10, Z11, Z11
	VEXTRACTF64X4 $1, Z11, Y10
	VADDPD Y10, Y11, Y11
	MOVQ out+48(FP), R8
	VMOVUPD Y11, (R8)
	VZEROUPPER
	RET

// func rbfSum2AVX512(z0 *float64, z1 *float64, nf int, sv *float64, dual *float64, npairs int, negGamma float64, out *[8]float64)
//
// rbfSumAVX512 for two rows at once (out[0:4] and out[4:8]): four chains in
// flight hide the latency of the exponential, and each support vector loaded
// serves both rows.
TEXT ·rbfSum2AVX512(SB), NOSPLIT, $0-64
	MOVQ z0+0(FP), DI
	MOVQ z1+8(FP), R12
	MOVQ nf+16(FP), R10
	SHLQ $6, R10
	MOVQ sv+24(FP), SI
	MOVQ dual+32(FP), DX
	MOVQ npairs+40(FP), BX
	VBROADCASTSD negGamma+48(FP), Z15
	VBROADCASTSD expConsts<>+32(SB), Z13
	VXORPD Z11, Z11, Z11
	VXORPD Z10, Z10, Z10
	VXORPD Z26, Z26, Z26
	VXORPD Z27, Z27, Z27

avx512pair2:
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z16, Z16, Z16
	VXORPD Z21, Z21, Z21
	XORQ R9, R9
	XORQ R13, R13
	LEAQ (SI)(R10*1), R11

avx512feature2:
	VMOVUPD (SI)(R9*1), Z2
	VMOVUPD (R11)(R9*1), Z3
	VSUBPD.BCST (DI)(R13*1), Z2, Z6
	VFMADD231PD Z6, Z6, Z0
	VSUBPD.BCST (DI)(R13*1), Z3, Z7
	VFMADD231PD Z7, Z7, Z1
	VSUBPD.BCST (R12)(R13*1), Z2, Z17
	VFMADD231PD Z17, Z17, Z16
	VSUBPD.BCST (R12)(R13*1), Z3, Z22
	VFMADD231PD Z22, Z22, Z21
	ADDQ $8, R13
	ADDQ $64, R9
	CMPQ R9, R10
	JLT  avx512feature2
	LEAQ (SI)(R10*2), SI

	// x = negGamma * distance
	VMULPD Z15, Z0, Z0
	VMULPD Z15, Z1, Z1
	VMULPD Z15, Z16, Z16
	VMULPD Z15, Z21, Z21
	// masks of x < expMin (false for NaN)
	VCMPPD.BCST $1, expConsts<>+64(SB), Z0, K1
	VCMPPD.BCST $1, expConsts<>+64(SB), Z1, K2
	VCMPPD.BCST $1, expConsts<>+64(SB), Z16, K3
	VCMPPD.BCST $1, expConsts<>+64(SB), Z21, K4
	// t = x*log2e + shifter; n = t - shifter
	VBROADCASTSD expConsts<>+0(SB), Z2
	VBROADCASTSD expConsts<>+0(SB), Z6
	VBROADCASTSD expConsts<>+0(SB), Z17
	VBROADCASTSD expConsts<>+0(SB), Z22
	VFMADD213PD Z13, Z0, Z2
	VFMADD213PD Z13, Z1, Z6
	VFMADD213PD Z13, Z16, Z17
	VFMADD213PD Z13, Z21, Z22
	VSUBPD Z13, Z2, Z3
	VSUBPD Z13, Z6, Z7
	VSUBPD Z13, Z17, Z18
	VSUBPD Z13, Z22, Z23
	// r = x - n*ln2Hi - n*ln2Lo
	VFMADD231PD.BCST expConsts<>+96(SB), Z3, Z0
	VFMADD231PD.BCST expConsts<>+96(SB), Z7, Z1
	VFMADD231PD.BCST expConsts<>+96(SB), Z18, Z16
	VFMADD231PD.BCST expConsts<>+96(SB), Z23, Z21
	VFMADD231PD.BCST expConsts<>+128(SB), Z3, Z0
	VFMADD231PD.BCST expConsts<>+128(SB), Z7, Z1
	VFMADD231PD.BCST expConsts<>+128(SB), Z18, Z16
	VFMADD231PD.BCST expConsts<>+128(SB), Z23, Z21
	// p(r) = sum c_k r^k: pairs (c_2k + c_2k+1 r) by Horner in r^2
	VMULPD Z0, Z0, Z3
	VMULPD Z1, Z1, Z7
	VMULPD Z16, Z16, Z18
	VMULPD Z21, Z21, Z23
	VBROADCASTSD expConsts<>+192(SB), Z5
	VBROADCASTSD expConsts<>+192(SB), Z9
	VBROADCASTSD expConsts<>+192(SB), Z19
	VBROADCASTSD expConsts<>+192(SB), Z24
	VFMADD213PD.BCST expConsts<>+224(SB), Z0, Z5
	VFMADD213PD.BCST expConsts<>+224(SB), Z1, Z9
	VFMADD213PD.BCST expConsts<>+224(SB), Z16, Z19
	VFMADD213PD.BCST expConsts<>+224(SB), Z21, Z24
	VBROADCASTSD expConsts<>+256(SB), Z12
	VBROADCASTSD expConsts<>+256(SB), Z14
	VBROADCASTSD expConsts<>+256(SB), Z20
	VBROADCASTSD expConsts<>+256(SB), Z25
	VFMADD213PD.BCST expConsts<>+288(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+288(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+288(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+288(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	VBROADCASTSD expConsts<>+320(SB), Z12
	VBROADCASTSD expConsts<>+320(SB), Z14
	VBROADCASTSD expConsts<>+320(SB), Z20
	VBROADCASTSD expConsts<>+320(SB), Z25
	VFMADD213PD.BCST expConsts<>+352(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+352(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+352(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+352(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	VBROADCASTSD expConsts<>+384(SB), Z12
	VBROADCASTSD expConsts<>+384(SB), Z14
	VBROADCASTSD expConsts<>+384(SB), Z20
	VBROADCASTSD expConsts<>+384(SB), Z25
	VFMADD213PD.BCST expConsts<>+416(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+416(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+416(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+416(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	VBROADCASTSD expConsts<>+448(SB), Z12
	VBROADCASTSD expConsts<>+448(SB), Z14
	VBROADCASTSD expConsts<>+448(SB), Z20
	VBROADCASTSD expConsts<>+448(SB), Z25
	VFMADD213PD.BCST expConsts<>+480(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+480(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+480(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+480(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	VBROADCASTSD expConsts<>+512(SB), Z12
	VBROADCASTSD expConsts<>+512(SB), Z14
	VBROADCASTSD expConsts<>+512(SB), Z20
	VBROADCASTSD expConsts<>+512(SB), Z25
	VFMADD213PD.BCST expConsts<>+544(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+544(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+544(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+544(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	VBROADCASTSD expConsts<>+576(SB), Z12
	VBROADCASTSD expConsts<>+576(SB), Z14
	VBROADCASTSD expConsts<>+576(SB), Z20
	VBROADCASTSD expConsts<>+576(SB), Z25
	VFMADD213PD.BCST expConsts<>+608(SB), Z0, Z12
	VFMADD213PD.BCST expConsts<>+608(SB), Z1, Z14
	VFMADD213PD.BCST expConsts<>+608(SB), Z16, Z20
	VFMADD213PD.BCST expConsts<>+608(SB), Z21, Z25
	VFMADD213PD Z12, Z3, Z5
	VFMADD213PD Z14, Z7, Z9
	VFMADD213PD Z20, Z18, Z19
	VFMADD213PD Z25, Z23, Z24
	// 2^n from the low bits of t
	VPADDQ.BCST expConsts<>+160(SB), Z2, Z2
	VPADDQ.BCST expConsts<>+160(SB), Z6, Z6
	VPADDQ.BCST expConsts<>+160(SB), Z17, Z17
	VPADDQ.BCST expConsts<>+160(SB), Z22, Z22
	VPSLLQ $52, Z2, Z2
	VPSLLQ $52, Z6, Z6
	VPSLLQ $52, Z17, Z17
	VPSLLQ $52, Z22, Z22
	VMULPD Z2, Z5, Z5
	VMULPD Z6, Z9, Z9
	VMULPD Z17, Z19, Z19
	VMULPD Z22, Z24, Z24
	// flush x < expMin to 0
	VXORPD Z5, Z5, K1, Z5
	VXORPD Z9, Z9, K2, Z9
	VXORPD Z19, Z19, K3, Z19
	VXORPD Z24, Z24, K4, Z24
	// sums += dual * exp
	VFMADD231PD (DX), Z5, Z11
	VFMADD231PD 64(DX), Z9, Z10
	VFMADD231PD (DX), Z19, Z26
	VFMADD231PD 64(DX), Z24, Z27
	ADDQ $128, DX
	DECQ BX
	JNZ  avx512pair2

	MOVQ out+56(FP), R8
	VADDPD Z10, Z11, Z11
	VEXTRACTF64X4 $1, Z11, Y10
	VADDPD Y10, Y11, Y11
	VMOVUPD Y11, (R8)
	VADDPD Z27, Z26, Z26
	VEXTRACTF64X4 $1, Z26, Y27
	VADDPD Y27, Y26, Y26
	VMOVUPD Y26, 32(R8)
	VZEROUPPER
	RET

// Constants, each repeated four times: log2e, shifter, expMin, -ln2Hi,
// -ln2Lo, the exponent bias 1023 (an integer), then c13 down to c0 = 1/k!.
// log2e
DATA expConsts<>+0(SB)/8, $0x3ff71547652b82fe
DATA expConsts<>+8(SB)/8, $0x3ff71547652b82fe
DATA expConsts<>+16(SB)/8, $0x3ff71547652b82fe
DATA expConsts<>+24(SB)/8, $0x3ff71547652b82fe
// shifter
DATA expConsts<>+32(SB)/8, $0x4338000000000000
DATA expConsts<>+40(SB)/8, $0x4338000000000000
DATA expConsts<>+48(SB)/8, $0x4338000000000000
DATA expConsts<>+56(SB)/8, $0x4338000000000000
// expMin
DATA expConsts<>+64(SB)/8, $0xc08625eb851eb852
DATA expConsts<>+72(SB)/8, $0xc08625eb851eb852
DATA expConsts<>+80(SB)/8, $0xc08625eb851eb852
DATA expConsts<>+88(SB)/8, $0xc08625eb851eb852
// negLn2Hi
DATA expConsts<>+96(SB)/8, $0xbfe62e42fee00000
DATA expConsts<>+104(SB)/8, $0xbfe62e42fee00000
DATA expConsts<>+112(SB)/8, $0xbfe62e42fee00000
DATA expConsts<>+120(SB)/8, $0xbfe62e42fee00000
// negLn2Lo
DATA expConsts<>+128(SB)/8, $0xbdea39ef35793c76
DATA expConsts<>+136(SB)/8, $0xbdea39ef35793c76
DATA expConsts<>+144(SB)/8, $0xbdea39ef35793c76
DATA expConsts<>+152(SB)/8, $0xbdea39ef35793c76
// bias
DATA expConsts<>+160(SB)/8, $0x00000000000003ff
DATA expConsts<>+168(SB)/8, $0x00000000000003ff
DATA expConsts<>+176(SB)/8, $0x00000000000003ff
DATA expConsts<>+184(SB)/8, $0x00000000000003ff
// c13
DATA expConsts<>+192(SB)/8, $0x3de6124613a86d09
DATA expConsts<>+200(SB)/8, $0x3de6124613a86d09
DATA expConsts<>+208(SB)/8, $0x3de6124613a86d09
DATA expConsts<>+216(SB)/8, $0x3de6124613a86d09
// c12
DATA expConsts<>+224(SB)/8, $0x3e21eed8eff8d898
DATA expConsts<>+232(SB)/8, $0x3e21eed8eff8d898
DATA expConsts<>+240(SB)/8, $0x3e21eed8eff8d898
DATA expConsts<>+248(SB)/8, $0x3e21eed8eff8d898
// c11
DATA expConsts<>+256(SB)/8, $0x3e5ae64567f544e4
DATA expConsts<>+264(SB)/8, $0x3e5ae64567f544e4
DATA expConsts<>+272(SB)/8, $0x3e5ae64567f544e4
DATA expConsts<>+280(SB)/8, $0x3e5ae64567f544e4
// c10
DATA expConsts<>+288(SB)/8, $0x3e927e4fb7789f5c
DATA expConsts<>+296(SB)/8, $0x3e927e4fb7789f5c
DATA expConsts<>+304(SB)/8, $0x3e927e4fb7789f5c
DATA expConsts<>+312(SB)/8, $0x3e927e4fb7789f5c
// c9
DATA expConsts<>+320(SB)/8, $0x3ec71de3a556c734
DATA expConsts<>+328(SB)/8, $0x3ec71de3a556c734
DATA expConsts<>+336(SB)/8, $0x3ec71de3a556c734
DATA expConsts<>+344(SB)/8, $0x3ec71de3a556c734
// c8
DATA expConsts<>+352(SB)/8, $0x3efa01a01a01a01a
DATA expConsts<>+360(SB)/8, $0x3efa01a01a01a01a
DATA expConsts<>+368(SB)/8, $0x3efa01a01a01a01a
DATA expConsts<>+376(SB)/8, $0x3efa01a01a01a01a
// c7
DATA expConsts<>+384(SB)/8, $0x3f2a01a01a01a01a
DATA expConsts<>+392(SB)/8, $0x3f2a01a01a01a01a
DATA expConsts<>+400(SB)/8, $0x3f2a01a01a01a01a
DATA expConsts<>+408(SB)/8, $0x3f2a01a01a01a01a
// c6
DATA expConsts<>+416(SB)/8, $0x3f56c16c16c16c17
DATA expConsts<>+424(SB)/8, $0x3f56c16c16c16c17
DATA expConsts<>+432(SB)/8, $0x3f56c16c16c16c17
DATA expConsts<>+440(SB)/8, $0x3f56c16c16c16c17
// c5
DATA expConsts<>+448(SB)/8, $0x3f81111111111111
DATA expConsts<>+456(SB)/8, $0x3f81111111111111
DATA expConsts<>+464(SB)/8, $0x3f81111111111111
DATA expConsts<>+472(SB)/8, $0x3f81111111111111
// c4
DATA expConsts<>+480(SB)/8, $0x3fa5555555555555
DATA expConsts<>+488(SB)/8, $0x3fa5555555555555
DATA expConsts<>+496(SB)/8, $0x3fa5555555555555
DATA expConsts<>+504(SB)/8, $0x3fa5555555555555
// c3
DATA expConsts<>+512(SB)/8, $0x3fc5555555555555
DATA expConsts<>+520(SB)/8, $0x3fc5555555555555
DATA expConsts<>+528(SB)/8, $0x3fc5555555555555
DATA expConsts<>+536(SB)/8, $0x3fc5555555555555
// c2
DATA expConsts<>+544(SB)/8, $0x3fe0000000000000
DATA expConsts<>+552(SB)/8, $0x3fe0000000000000
DATA expConsts<>+560(SB)/8, $0x3fe0000000000000
DATA expConsts<>+568(SB)/8, $0x3fe0000000000000
// c1
DATA expConsts<>+576(SB)/8, $0x3ff0000000000000
DATA expConsts<>+584(SB)/8, $0x3ff0000000000000
DATA expConsts<>+592(SB)/8, $0x3ff0000000000000
DATA expConsts<>+600(SB)/8, $0x3ff0000000000000
// c0
DATA expConsts<>+608(SB)/8, $0x3ff0000000000000
DATA expConsts<>+616(SB)/8, $0x3ff0000000000000
DATA expConsts<>+624(SB)/8, $0x3ff0000000000000
DATA expConsts<>+632(SB)/8, $0x3ff0000000000000
GLOBL expConsts<>(SB), RODATA|NOPTR, $640
