package embedded

// The scan kernels. Stored vectors are padded with zeros to a stride that
// is a multiple of lane (32 values), so kernels never handle a tail and
// the padding adds nothing to a dot product.

// lane is the granularity of a stride.
const lane = 32

// strideOf is the padded length of a vector of dimension dim.
func strideOf(dim int) int { return (dim + lane - 1) / lane * lane }

// dotsF32Go writes the dot products of q with each of the len(out)
// vectors laid end to end in vecs (stride len(q)) into out.
func dotsF32Go(q, vecs, out []float32) {
	stride := len(q)
	for j := range out {
		v := vecs[j*stride : (j+1)*stride]
		var s0, s1, s2, s3 float32
		for i := 0; i < stride; i += 4 {
			s0 += q[i] * v[i]
			s1 += q[i+1] * v[i+1]
			s2 += q[i+2] * v[i+2]
			s3 += q[i+3] * v[i+3]
		}
		out[j] = (s0 + s1) + (s2 + s3)
	}
}

// dotsI8Go is dotsF32Go for quantized vectors, against a query widened to
// int16. Sums cannot overflow: |q|,|v| <= 127 and strides stay far below
// 2^31/127^2 = 133,000.
func dotsI8Go(q []int16, vecs []int8, out []int32) {
	stride := len(q)
	for j := range out {
		v := vecs[j*stride : (j+1)*stride]
		var s0, s1 int32
		for i := 0; i < stride; i += 2 {
			s0 += int32(q[i]) * int32(v[i])
			s1 += int32(q[i+1]) * int32(v[i+1])
		}
		out[j] = s0 + s1
	}
}
