package datasets

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
)

// split divides examples into train and test, deterministically: the
// groups (Example.Group) are ordered by a hash of the seed and the group,
// and taken into test in that order until test holds share of the
// examples (rounded, at least one when share > 0 and there are two groups
// or more); train keeps at least one group. Both keep the input order, so
// the same seed and the same input give the same files, byte for byte.
func split(examples []Example, seed int64, share float64) (train, test []Example) {
	counts := make(map[string]int)
	var groups []string
	for _, e := range examples {
		if counts[e.Group] == 0 {
			groups = append(groups, e.Group)
		}
		counts[e.Group]++
	}
	key := func(g string) uint64 {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(seed))
		h.Write(b[:])
		h.Write([]byte(g))
		return mix(h.Sum64())
	}
	slices.SortFunc(groups, func(a, b string) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return compareStrings(a, b)
	})
	target := int(math.Round(share * float64(len(examples))))
	if share > 0 && target == 0 && len(groups) > 1 {
		target = 1
	}
	inTest := make(map[string]bool)
	n := 0
	for i, g := range groups {
		if n >= target || i == len(groups)-1 {
			break // the last group stays in train
		}
		inTest[g] = true
		n += counts[g]
	}
	for _, e := range examples {
		if inTest[e.Group] {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
