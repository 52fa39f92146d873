//go:build !amd64 || purego

package embedded

func dotsF32(q, vecs, out []float32) { dotsF32Go(q, vecs, out) }

func dotsI8(q []int16, vecs []int8, out []int32) { dotsI8Go(q, vecs, out) }
