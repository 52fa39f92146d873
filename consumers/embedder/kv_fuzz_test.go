package embedder

import "testing"

// FuzzParseIndexed: a bucket entry is outside input (any client with
// access can write one); parsing never panics, and an entry that
// indexedValue wrote reads back as written.
func FuzzParseIndexed(f *testing.F) {
	f.Add([]byte("42 doc-1"), int64(42), "doc-1")
	f.Add([]byte("7"), int64(7), "https://example.com/p?q=a b")
	f.Add([]byte("9007199254740991 "), int64(-1), "")
	f.Add([]byte(" x"), int64(0), "x y")
	f.Fuzz(func(t *testing.T, raw []byte, rev int64, id string) {
		_, _, _ = parseIndexed(raw)
		gotRev, gotID, err := parseIndexed(indexedValue(rev, id))
		if err != nil || gotRev != rev || gotID != id {
			t.Fatalf("indexedValue(%d, %q) reads back as %d, %q, %v", rev, id, gotRev, gotID, err)
		}
	})
}
