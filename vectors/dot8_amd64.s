#include "textflag.h"

// func dotU8I8AVX2(u []uint8, s []int8) int32
// Requires len(s) >= len(u) and every s in [-64, 64]; the caller checks
// the first and quantizeQuery guarantees the second. VPMADDUBSW multiplies
// 32 unsigned by 32 signed bytes and adds neighbours into 16 int16 with
// saturation; with u <= 255 and |s| <= 64 a pair is at most 32640, so
// nothing saturates and the answer equals the portable loop's exactly.
// VPMADDWD by ones then widens the pairs into int32 sums.
TEXT ·dotU8I8AVX2(SB), NOSPLIT, $0-52
	MOVQ     u_base+0(FP), SI
	MOVQ     u_len+8(FP), CX
	MOVQ     s_base+24(FP), DI
	VPXOR    Y0, Y0, Y0
	VPXOR    Y1, Y1, Y1
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15

uloop64:
	CMPQ       CX, $64
	JL         uloop32
	VMOVDQU    (SI), Y2
	VMOVDQU    32(SI), Y3
	VPMADDUBSW (DI), Y2, Y2
	VPMADDUBSW 32(DI), Y3, Y3
	VPMADDWD   Y15, Y2, Y2
	VPMADDWD   Y15, Y3, Y3
	VPADDD     Y2, Y0, Y0
	VPADDD     Y3, Y1, Y1
	ADDQ       $64, SI
	ADDQ       $64, DI
	SUBQ       $64, CX
	JMP        uloop64

uloop32:
	CMPQ       CX, $32
	JL         ureduce
	VMOVDQU    (SI), Y2
	VPMADDUBSW (DI), Y2, Y2
	VPMADDWD   Y15, Y2, Y2
	VPADDD     Y2, Y0, Y0
	ADDQ       $32, SI
	ADDQ       $32, DI
	SUBQ       $32, CX

ureduce:
	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX

utail:
	CMPQ    CX, $0
	JE      udone
	MOVBQZX (SI), R8
	MOVBQSX (DI), R9
	IMULL   R9, R8
	ADDL    R8, AX
	INCQ    SI
	INCQ    DI
	DECQ    CX
	JMP     utail

udone:
	VZEROUPPER
	MOVL AX, ret+48(FP)
	RET
