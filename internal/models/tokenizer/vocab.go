package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// vocabulary maps word pieces to ids and back. It replaces two Go maps
// (one for word starts, one for continuations), which made the lookups
// half of the tokenizer's time, and whose 30,522 strings the garbage
// collector had to scan on every cycle:
//
//   - the entries stay where they are, in the embedded vocab.txt, and are
//     found by offset, so the structure holds one pointer in all;
//   - the index is an open-addressing hash table of pointer-free slots,
//     each holding the first 8 bytes of its key, so that most lookups
//     (English words are short) compare one integer and never touch the
//     key's bytes.
type vocabulary struct {
	text   string   // vocab.txt: entry id is text[starts[id]:starts[id+1]-1]
	starts []uint32 // len = entries+1; the -1 drops the newline
	slots  []slot   // len is a power of two, at least twice the entries
	shift  uint     // 64 - log2(len(slots)): the hash's top bits index slots
	// maxWord and maxPiece are the longest word-start and continuation
	// keys, in bytes: a longer candidate cannot match.
	maxWord, maxPiece int
}

// slot is one entry of the hash table. Continuation pieces are keyed
// without their "##", so that a lookup can take a slice of the word being
// split as it is.
type slot struct {
	prefix uint64 // the key's first 8 bytes, little-endian, zero-padded
	id     int32  // the entry's id plus one; 0 marks an empty slot
	n      uint8  // key length in bytes (entries are at most 18)
	cont   bool   // a continuation piece
}

// parseVocabulary indexes text, one entry a line, line n being id n.
func parseVocabulary(text string) (*vocabulary, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("tokenizer: vocabulary does not end with a newline")
	}
	n := strings.Count(text, "\n")
	v := &vocabulary{text: text, starts: make([]uint32, 0, n+1)}
	size := 1 << bits.Len(uint(2*n))
	v.slots = make([]slot, size)
	v.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for start := 0; start < len(text); {
		line := text[start : start+strings.IndexByte(text[start:], '\n')]
		id := len(v.starts)
		v.starts = append(v.starts, uint32(start))
		start += len(line) + 1
		key, cont := line, false
		if p, ok := strings.CutPrefix(line, continuation); ok && p != "" {
			key, cont = p, true
		}
		if key == "" || len(key) > 255 {
			return nil, fmt.Errorf("tokenizer: vocabulary entry %d (%q) is empty or too long", id, line)
		}
		if v.lookup([]byte(key), cont) >= 0 {
			return nil, fmt.Errorf("tokenizer: vocabulary entry %d (%q) is a duplicate", id, line)
		}
		v.insert(key, cont, id)
		if cont {
			v.maxPiece = max(v.maxPiece, len(key))
		} else {
			v.maxWord = max(v.maxWord, len(key))
		}
	}
	v.starts = append(v.starts, uint32(len(text)))
	return v, nil
}

// size returns the number of entries.
func (v *vocabulary) size() int { return len(v.starts) - 1 }

// entry returns the text of entry id, "##" included for continuations.
func (v *vocabulary) entry(id int) string {
	return v.text[v.starts[id] : v.starts[id+1]-1]
}

func (v *vocabulary) insert(key string, cont bool, id int) {
	b := []byte(key)
	h := hash(b, cont)
	for i := h >> v.shift; ; i = (i + 1) & uint64(len(v.slots)-1) {
		if v.slots[i].id == 0 {
			v.slots[i] = slot{prefix: prefix(b), id: int32(id + 1), n: uint8(len(b)), cont: cont}
			return
		}
	}
}

// lookup returns the id of key, a word start or (cont) a continuation
// piece without its "##", or -1.
func (v *vocabulary) lookup(key []byte, cont bool) int {
	if len(key) == 0 || len(key) > 255 {
		return -1
	}
	p, n := prefix(key), uint8(len(key))
	h := hash(key, cont)
	for i := h >> v.shift; ; i = (i + 1) & uint64(len(v.slots)-1) {
		s := &v.slots[i]
		if s.id == 0 {
			return -1
		}
		if s.prefix != p || s.n != n || s.cont != cont {
			continue
		}
		id := int(s.id - 1)
		if n <= 8 {
			return id
		}
		e := v.entry(id)
		if cont {
			e = e[len(continuation):]
		}
		if e[8:] == string(key[8:]) {
			return id
		}
	}
}

// prefix returns the first 8 bytes of b, little-endian, zero-padded.
func prefix(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	if cap(b) >= 8 {
		// The word being split lives in a larger buffer: load 8 bytes
		// and keep those of b.
		return binary.LittleEndian.Uint64(b[:8]) & (1<<(8*len(b)) - 1)
	}
	var p uint64
	for i, c := range b {
		p |= uint64(c) << (8 * i)
	}
	return p
}

// hash mixes b 8 bytes at a time (multiply and xor-shift, as in
// splitmix64); continuations hash differently from word starts.
func hash(b []byte, cont bool) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := uint64(len(b))
	if cont {
		h ^= 0xA5A5A5A5 << 8
	}
	for len(b) > 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * m
		h ^= h >> 31
		b = b[8:]
	}
	h = (h ^ prefix(b)) * m
	h ^= h >> 29
	return h * m
}
