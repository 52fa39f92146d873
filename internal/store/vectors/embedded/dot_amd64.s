//go:build !purego

#include "textflag.h"

// func dotsF32AVX2(q *float32, vecs *float32, stride int, n int, out *float32)
// stride is a positive multiple of 32; vecs holds n vectors of stride values.
TEXT ·dotsF32AVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), R8
	MOVQ vecs+8(FP), DI
	MOVQ stride+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ out+32(FP), R11

fvec:
	TESTQ R10, R10
	JZ    fdone
	MOVQ  R8, SI
	MOVQ  R9, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

floop:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JNZ         floop

	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, (R11)
	ADDQ         $4, R11
	DECQ         R10
	JMP          fvec

fdone:
	VZEROUPPER
	RET

// func dotsI8AVX2(q *int16, vecs *int8, stride int, n int, out *int32)
// q is the query widened to int16; each step sign-extends 16 stored bytes
// to words and multiplies-adds them pairwise into 8 int32 lanes.
TEXT ·dotsI8AVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), R8
	MOVQ vecs+8(FP), DI
	MOVQ stride+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ out+32(FP), R11

ivec:
	TESTQ R10, R10
	JZ    idone
	MOVQ  R8, SI
	MOVQ  R9, CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1

iloop:
	VPMOVSXBW (DI), Y4
	VPMOVSXBW 16(DI), Y5
	VPMADDWD  (SI), Y4, Y4
	VPMADDWD  32(SI), Y5, Y5
	VPADDD    Y4, Y0, Y0
	VPADDD    Y5, Y1, Y1
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $32, CX
	JNZ       iloop

	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPHADDD      X0, X0, X0
	VPHADDD      X0, X0, X0
	MOVL         X0, (R11)
	ADDQ         $4, R11
	DECQ         R10
	JMP          ivec

idone:
	VZEROUPPER
	RET
