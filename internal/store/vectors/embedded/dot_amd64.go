//go:build !purego

package embedded

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels; they need AVX2 and FMA.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotsF32AVX2(q *float32, vecs *float32, stride int, n int, out *float32)

//go:noescape
func dotsI8AVX2(q *int16, vecs *int8, stride int, n int, out *int32)

func dotsF32(q, vecs, out []float32) {
	if !useAVX2 || len(out) == 0 {
		dotsF32Go(q, vecs, out)
		return
	}
	_ = vecs[len(out)*len(q)-1] // the kernel reads this far
	dotsF32AVX2(&q[0], &vecs[0], len(q), len(out), &out[0])
}

func dotsI8(q []int16, vecs []int8, out []int32) {
	if !useAVX2 || len(out) == 0 {
		dotsI8Go(q, vecs, out)
		return
	}
	_ = vecs[len(out)*len(q)-1]
	dotsI8AVX2(&q[0], &vecs[0], len(q), len(out), &out[0])
}
