package datasets

import (
	"encoding/binary"
	"hash/fnv"
	"strings"

	"github.com/twin-llm/twin/consumers/rag"
)

// Reasons something is dropped, as counted in a dataset record. The
// filters' reasons count examples; llm_invalid and llm_error count
// extracts, skipped_text pieces of text, no_prose, no_answer and
// no_chosen would-be examples, all left out before the filters.
const (
	DropShortInstruction = "short_instruction"   // instruction or prompt shorter than MinInstructionChars
	DropShortOutput      = "short_output"        // output or chosen shorter than MinOutputChars
	DropNotSentences     = "not_sentence_shaped" // chosen is not prose sentences
	DropRejectedLike     = "rejected_like_chosen"
	DropNearDuplicate    = "near_duplicate"
	DropPersonalData     = "personal_data"
	DropShortQuery       = "short_query"
	DropSuperseded       = "superseded"   // a later judgment of the same query and document
	DropLLMInvalid       = "llm_invalid"  // the LLM's output did not parse twice
	DropLLMError         = "llm_error"    // the LLM failed
	DropNoAnswer         = "no_answer"    // a rated trace without an answer to learn from
	DropNoChosen         = "no_chosen"    // a down-rated answer with neither a better answer nor a source passage
	DropSkippedBlock     = "skipped_text" // a block longer than an extract, or a piece too short to stand alone
	DropNoProse          = "no_prose"     // a section or extract without a run of prose long enough to be chosen
)

// Filters are the thresholds of the filters.
type Filters struct {
	// MinInstructionChars bounds instructions, prompts and queries from
	// below; DefaultMinInstructionChars when 0.
	MinInstructionChars int
	// MinOutputChars bounds outputs and chosen texts from below;
	// DefaultMinOutputChars when 0.
	MinOutputChars int
	// NearDuplicate is the Jaccard similarity of word 5-shingles above
	// which an example is a near-duplicate of an earlier one;
	// DefaultNearDuplicate when 0.
	NearDuplicate float64
}

// Defaults of Filters.
const (
	DefaultMinInstructionChars = 10
	DefaultMinOutputChars      = 200
	DefaultNearDuplicate       = 0.8
)

func (f Filters) withDefaults() Filters {
	if f.MinInstructionChars <= 0 {
		f.MinInstructionChars = DefaultMinInstructionChars
	}
	if f.MinOutputChars <= 0 {
		f.MinOutputChars = DefaultMinOutputChars
	}
	if f.NearDuplicate <= 0 {
		f.NearDuplicate = DefaultNearDuplicate
	}
	return f
}

// filter keeps the examples that pass every filter, in order, and counts
// the others by reason in dropped. The first of near-duplicates is kept.
func (f Filters) filter(kind string, in []Example, guard *rag.Guard, dropped map[string]int) []Example {
	f = f.withDefaults()
	dups := newDedup(f.NearDuplicate)
	var out []Example
	for _, e := range in {
		if reason := f.check(kind, e, guard); reason != "" {
			dropped[reason]++
			continue
		}
		if kind != KindRelevance && dups.seen(e) {
			dropped[DropNearDuplicate]++
			continue
		}
		out = append(out, e)
	}
	return out
}

// check returns why e fails a filter, or "".
func (f Filters) check(kind string, e Example, guard *rag.Guard) string {
	switch kind {
	case KindInstruct:
		if len(strings.TrimSpace(e.Instruction)) < f.MinInstructionChars {
			return DropShortInstruction
		}
		if len(strings.TrimSpace(e.Output)) < f.MinOutputChars {
			return DropShortOutput
		}
	case KindPreference:
		if len(strings.TrimSpace(e.Prompt)) < f.MinInstructionChars {
			return DropShortInstruction
		}
		if len(strings.TrimSpace(e.Chosen)) < f.MinOutputChars {
			return DropShortOutput
		}
		if !sentenceShaped(e.Chosen) {
			return DropNotSentences
		}
		if strings.TrimSpace(e.Rejected) == "" || jaccard(shingles(e.Chosen), shingles(e.Rejected)) >= f.NearDuplicate {
			return DropRejectedLike
		}
	case KindRelevance:
		if len(strings.TrimSpace(e.Query)) < 3 {
			return DropShortQuery
		}
	}
	for _, s := range []string{e.Instruction, e.Output, e.Prompt, e.Chosen, e.Rejected, e.Query} {
		if s != "" && hasPersonalData(guard, s) {
			return DropPersonalData
		}
	}
	return ""
}

// hasPersonalData runs the chat's output guardrail over s and reports
// whether it would redact anything: contact details, keys, tokens.
func hasPersonalData(g *rag.Guard, s string) bool {
	r := g.NewRedactor()
	r.Write(s)
	r.Flush()
	return len(r.Redactions()) > 0
}

// shingleWords is the width of a shingle, in words.
const shingleWords = 5

// shingles hashes the word 5-grams of s (lowercased words); a text of
// fewer words is one shingle.
func shingles(s string) map[uint64]struct{} {
	words := strings.Fields(strings.ToLower(s))
	out := make(map[uint64]struct{})
	if len(words) == 0 {
		return out
	}
	n := max(1, len(words)-shingleWords+1)
	for i := range n {
		h := fnv.New64a()
		for _, w := range words[i:min(i+shingleWords, len(words))] {
			h.Write([]byte(w))
			h.Write([]byte{0})
		}
		out[h.Sum64()] = struct{}{}
	}
	return out
}

func jaccard(a, b map[uint64]struct{}) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for k := range a {
		if _, ok := b[k]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// MinHash with banded locality-sensitive hashing: 128 hash functions in 32
// bands of 4 rows. Two texts land in a common bucket with probability
// 1-(1-J^4)^32: 0.9996 at J = 0.8, 0.04 at J = 0.25, so candidates are
// found without comparing every pair, and each candidate is confirmed on
// the exact similarity of the two shingle sets (the estimate from 128
// hashes is off by 0.035 on average, too coarse to decide on).
const (
	minHashes = 128
	bandRows  = 4
)

type minHash struct {
	threshold float64
	sets      []map[uint64]struct{}
	buckets   map[[2]uint64][]int
}

func newMinHash(threshold float64) *minHash {
	return &minHash{threshold: threshold, buckets: make(map[[2]uint64][]int)}
}

// matches returns the earlier texts (by the order they were added) that
// text is a near-duplicate of.
func (m *minHash) matches(text string) (sh map[uint64]struct{}, keys [][2]uint64, found map[int]bool) {
	sh = shingles(text)
	sig := signature(sh)
	keys = make([][2]uint64, 0, minHashes/bandRows)
	for b := 0; b < minHashes; b += bandRows {
		h := fnv.New64a()
		var buf [8]byte
		for _, v := range sig[b : b+bandRows] {
			binary.LittleEndian.PutUint64(buf[:], v)
			h.Write(buf[:])
		}
		keys = append(keys, [2]uint64{uint64(b), h.Sum64()})
	}
	found = make(map[int]bool)
	for _, k := range keys {
		for _, j := range m.buckets[k] {
			if !found[j] && jaccard(sh, m.sets[j]) >= m.threshold {
				found[j] = true
			}
		}
	}
	return sh, keys, found
}

// add remembers a text as the next one.
func (m *minHash) add(sh map[uint64]struct{}, keys [][2]uint64) {
	m.sets = append(m.sets, sh)
	for _, k := range keys {
		m.buckets[k] = append(m.buckets[k], len(m.sets)-1)
	}
}

// dedup finds near-duplicates among examples. An instruction pair is one
// when its instruction and output together are like an earlier pair's. A
// triple is one when both its chosen and its rejected text are like those
// of one earlier triple: one passage of the author may rightly be the
// chosen text of several prompts with different rejected answers (a
// heading's, a rated question's), and one generic rejected answer may face
// several chosen texts.
type dedup struct {
	first, second *minHash
}

func newDedup(threshold float64) *dedup {
	return &dedup{newMinHash(threshold), newMinHash(threshold)}
}

// seen reports whether e is a near-duplicate of an example seen before;
// if not, it remembers e.
func (d *dedup) seen(e Example) bool {
	if e.Chosen == "" {
		sh, keys, found := d.first.matches(e.Instruction + "\n" + e.Output)
		if len(found) > 0 {
			return true
		}
		d.first.add(sh, keys)
		return false
	}
	shC, keysC, foundC := d.first.matches(e.Prompt + "\n" + e.Chosen)
	shR, keysR, foundR := d.second.matches(e.Rejected)
	for j := range foundC {
		if foundR[j] {
			return true
		}
	}
	d.first.add(shC, keysC)
	d.second.add(shR, keysR)
	return false
}

// signature is the MinHash signature of a shingle set: for each of the
// hash functions (a multiply-xorshift mix seeded by its index), the least
// value over the shingles.
func signature(sh map[uint64]struct{}) [minHashes]uint64 {
	var sig [minHashes]uint64
	for i := range sig {
		sig[i] = ^uint64(0)
	}
	for s := range sh {
		for i := range sig {
			if v := mix(s ^ (uint64(i+1) * 0x9e3779b97f4a7c15)); v < sig[i] {
				sig[i] = v
			}
		}
	}
	return sig
}

// mix is splitmix64's finalizer: a bijection that spreads every input bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
