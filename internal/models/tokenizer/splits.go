package tokenizer

import "sync"

// splits remembers the word pieces of words that are not vocabulary
// entries, which WordPiece finds by trying every shorter candidate. It is a
// cache: dropping it changes nothing but speed.
//
// Keys are normalized words of at most maxCharsPerWord ASCII bytes whose
// bytes came one by one from the text (walker.simple), so the pieces'
// offsets, from the word's start, fit a byte.
type splits struct {
	shards [splitShards]splitShard
}

const (
	splitShards   = 16
	maxShardWords = 4096 // past it a shard starts over
)

type splitShard struct {
	mu    sync.RWMutex // guards words
	words map[string][]split
}

// split is one piece of a word: its id and its bytes in the word.
type split struct {
	id       int32
	from, to uint8
}

func (c *splits) shard(word []byte) *splitShard {
	return &c.shards[hash(word, false)>>60%splitShards]
}

func (c *splits) get(word []byte) ([]split, bool) {
	sh := c.shard(word)
	sh.mu.RLock()
	pieces, ok := sh.words[string(word)]
	sh.mu.RUnlock()
	return pieces, ok
}

func (c *splits) put(word []byte, pieces []split) {
	if len(word) > maxCharsPerWord {
		return
	}
	sh := c.shard(word)
	sh.mu.Lock()
	if sh.words == nil || len(sh.words) >= maxShardWords {
		sh.words = make(map[string][]split)
	}
	sh.words[string(word)] = pieces
	sh.mu.Unlock()
}
