package bench

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/twin-llm/twin/internal/store/warehouse"
)

// docSize is the size of a benchmark document's content.
const docSize = 4000

// Docs makes the benchmark's documents: generated text when Text is
// empty, else windows of Text (see ReadText).
type Docs struct{ Text string }

// doc is document i of about 4 KB, its id under prefix.
func (b Docs) doc(rng *rand.Rand, prefix string, i int) warehouse.Document {
	if b.Text == "" {
		return generated(rng, prefix, i)
	}
	return document(prefix, i, "Excerpt", window(b.Text, rng.IntN(len(b.Text)-docSize)))
}

// window is docSize bytes or a little less of text, starting after
// the first space or line break at or after from (at a word: from is
// random and mostly inside one), cut at a character boundary.
func window(text string, from int) string {
	if i := strings.IndexAny(text[from:], " \n"); i >= 0 && from+i+1 < len(text) {
		from += i + 1
	}
	end := min(from+docSize, len(text))
	for end > from && end < len(text) && !utf8.RuneStart(text[end]) {
		end--
	}
	return text[from:end]
}

// ReadText joins the "text" fields of a JSON Lines file, gzipped when its
// name ends in .gz, for Docs.
func ReadText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("bench text: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", fmt.Errorf("bench text %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	text, err := joinTexts(r)
	if err != nil {
		return "", fmt.Errorf("bench text %s: %w", path, err)
	}
	return text, nil
}

// joinTexts joins the "text" fields of the JSON objects, one a line, of
// r, with a blank line between; there must be at least two documents'
// worth.
func joinTexts(r io.Reader) (string, error) {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var obj struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			return "", fmt.Errorf("line %d: want a JSON object with a \"text\" field: %w", line, err)
		}
		b.WriteString(obj.Text) // valid UTF-8: json.Unmarshal replaces what is not
		b.WriteString("\n\n")
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if b.Len() < 2*docSize {
		return "", errors.New(`too little text: want at least 8 KB of "text" fields`)
	}
	return b.String(), nil
}
