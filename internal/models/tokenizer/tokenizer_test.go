package tokenizer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twin-llm/twin/internal/evaldata"
	"github.com/twin-llm/twin/internal/tiltest"
)

// newTestTokenizer returns a Tokenizer, failing the test if the embedded
// vocabulary does not parse.
func newTestTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tok
}

// The expected pieces and ids are what Hugging Face tokenizers gives with
// the model's tokenizer.json. They were worked out from the vocabulary
// (vocab.txt line n+1 is id n) by the rules in the package comment, and
// cross-checked against an independent implementation of those rules on
// Python's unicodedata; the comments say why the tricky ones come out so.
var goldenTests = []struct {
	name, text string
	pieces     []string
	ids        []int
}{
	{"hello world", "Hello, world!", []string{"hello", ",", "world", "!"}, []int{7592, 1010, 2088, 999}},
	// Greedy longest match first: "una" is the longest vocabulary entry
	// starting the word, then "##ffa" (not "##ff") the longest
	// continuation of "ffable", then "##ble". ("un ##aff ##able", the
	// example of BERT's README, is another vocabulary's answer.)
	{"subwords", "unaffable", []string{"una", "##ffa", "##ble"}, []int{14477, 20961, 3468}},
	{"subwords 2", "unbelievable unhappiness", []string{"unbelievable", "un", "##ha", "##pp", "##iness"}, []int{23653, 4895, 3270, 9397, 9961}},
	{"mixed case", "HeLLo WoRLD", []string{"hello", "world"}, []int{7592, 2088}},
	{"mixed case subwords", "ChatGPT GPT-4o LLaMA", []string{"chat", "##gp", "##t", "gp", "##t", "-", "4", "##o", "ll", "##ama"}, []int{11834, 21600, 2102, 14246, 2102, 1011, 1018, 2080, 2222, 8067}},
	// Accents are stripped: NFD, then the nonspacing marks go.
	{"accent", "Café", []string{"cafe"}, []int{7668}},
	{"accents uppercase", "CAFÉ déjà vu", []string{"cafe", "de", "##ja", "vu"}, []int{7668, 2139, 3900, 24728}},
	{"accents", "naïve résumé", []string{"naive", "resume"}, []int{15743, 13746}},
	{"accent decomposed", "e\u0301", []string{"e"}, []int{1041}},
	{"lone combining mark", "\u0301", nil, nil},
	{"vietnamese", "Việt Nam", []string{"viet", "nam"}, []int{19710, 15125}},
	{"angstrom", "Ångström", []string{"ang", "##strom"}, []int{17076, 15687}},
	// İ decomposes to I + U+0307, whose mark goes before lowercasing.
	{"dotted capital I", "İstanbul", []string{"istanbul"}, []int{9960}},
	{"greek", "Ωmega ΣΑΣ", []string{"ω", "##me", "##ga", "σ", "##α", "##σ"}, []int{1179, 4168, 3654, 1173, 14608, 29733}},
	// Each CJK ideograph is a word; 佳 is not in the vocabulary.
	{"chinese", "野口里佳 Noguchi Rika", []string{"野", "口", "里", "[UNK]", "no", "##guchi", "ri", "##ka"}, []int{1963, 1788, 1962, 100, 2053, 16918, 15544, 2912}},
	// Kana are not CJK ideographs: のテキスト stays one word.
	{"japanese", "日本語のテキスト", []string{"日", "本", "語", "の", "##テ", "##キ", "##ス", "##ト"}, []int{1864, 1876, 1950, 1671, 30239, 30227, 30233, 30240}},
	// NFD turns Hangul syllables into jamo, which the vocabulary has.
	{"hangul", "한국어", []string{"ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ"}, []int{1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008}},
	// Control characters are removed, not word breaks: \v, \f and U+0085
	// are whitespace to Rust but control characters first.
	{"vertical tab", "a\vb", []string{"ab"}, []int{11113}},
	{"next line", "a\u0085b", []string{"ab"}, []int{11113}},
	{"nul", "Hello\x00World", []string{"hello", "##world"}, []int{7592, 11108}},
	{"nul first", "\x00nul", []string{"nu", "##l"}, []int{16371, 2140}},
	{"replacement char", "\ufffd", nil, nil},
	{"private use", "\ue000pua", []string{"pu", "##a"}, []int{16405, 2050}},
	// Format characters (Cf) are removed too.
	{"zero width space", "zw\u200bsp", []string{"z", "##ws", "##p"}, []int{1062, 9333, 2361}},
	{"soft hyphen", "soft\u00adhyphen", []string{"soft", "##hy", "##ph", "##en"}, []int{3730, 10536, 8458, 2368}},
	{"zero width joiner", "ab\u200dcd", []string{"abc", "##d"}, []int{5925, 2094}},
	{"tab", "tab\there", []string{"tab", "here"}, []int{21628, 2182}},
	{"newlines", "new\nline\r\nx", []string{"new", "line", "x"}, []int{2047, 2240, 1060}},
	{"no-break space", "nbsp\u00a0x", []string{"n", "##bs", "##p", "x"}, []int{1050, 5910, 2361, 1060}},
	{"ideographic space", "\u3000ideo", []string{"id", "##eo"}, []int{8909, 8780}},
	{"spaces around", "   leading and trailing   ", []string{"leading", "and", "trailing"}, []int{2877, 1998, 12542}},
	{"empty", "", nil, nil},
	{"space", " ", nil, nil},
	{"whitespace only", "\t\n", nil, nil},
	// Emoji are symbols, not punctuation: part of the word, and no piece
	// covers them, so the whole word is [UNK].
	{"emoji", "😀", []string{"[UNK]"}, []int{100}},
	{"emoji in word", "hi😀", []string{"[UNK]"}, []int{100}},
	{"emoji word", "😀 hi", []string{"[UNK]", "hi"}, []int{100, 7632}},
	{"heart", "I ❤ NY", []string{"i", "[UNK]", "ny"}, []int{1045, 100, 6396}},
	{"emoji zwj sequence", "👨\u200d👩\u200d👧", []string{"[UNK]"}, []int{100}},
	// Punctuation is a word of its own; symbols (€ £ ²) are not.
	{"numbers", "3.14159 1,000,000 2024-01-01", []string{"3", ".", "141", "##59", "1", ",", "000", ",", "000", "202", "##4", "-", "01", "-", "01"}, []int{1017, 1012, 15471, 28154, 1015, 1010, 2199, 1010, 2199, 16798, 2549, 1011, 5890, 1011, 5890}},
	{"currency", "$100 €50 £3", []string{"$", "100", "€", "##50", "£3"}, []int{1002, 2531, 1574, 12376, 28182}},
	{"superscript", "x²", []string{"x", "##²"}, []int{1060, 10701}},
	{"apostrophe", "don't", []string{"don", "'", "t"}, []int{2123, 1005, 1056}},
	{"hyphens", "state-of-the-art", []string{"state", "-", "of", "-", "the", "-", "art"}, []int{2110, 1011, 1997, 1011, 1996, 1011, 2396}},
	{"curly quotes", "“quoted”", []string{"“", "quoted", "”"}, []int{1523, 9339, 1524}},
	{"code", "func(x int) error {", []string{"fun", "##c", "(", "x", "int", ")", "error", "{"}, []int{4569, 2278, 1006, 1060, 20014, 1007, 7561, 1063}},
	{"url", "http://example.com/path?q=1&r=2", []string{"http", ":", "/", "/", "example", ".", "com", "/", "path", "?", "q", "=", "1", "&", "r", "=", "2"}, []int{8299, 1024, 1013, 1013, 2742, 1012, 4012, 1013, 4130, 1029, 1053, 1027, 1015, 1004, 1054, 1027, 1016}},
	// U+037E GREEK QUESTION MARK decomposes to ';'.
	{"greek question mark", "\u037e", []string{";"}, []int{1025}},
	// NFD is not NFKC: ligatures, fullwidth and mathematical letters stay
	// what they are (the featurizer's cleaning folds the last two).
	{"ligature", "ﬁne ligature", []string{"ﬁ", "##ne", "liga", "##ture"}, []int{1984, 2638, 8018, 11244}},
	{"fullwidth", "ａｂｃ", []string{"[UNK]"}, []int{100}},
	{"math bold", "𝐛𝐨𝐥𝐝", []string{"[UNK]"}, []int{100}},
	// Special tokens in the text are matched before normalization, and
	// only as written.
	{"special tokens", "[CLS] hello [SEP]", []string{"[CLS]", "hello", "[SEP]"}, []int{101, 7592, 102}},
	{"special token in word", "x[MASK]y", []string{"x", "[MASK]", "y"}, []int{1060, 103, 1061}},
	{"special token lowercase", "[sep]", []string{"[", "sep", "]"}, []int{1031, 19802, 1033}},
	// A word of more than 100 characters is [UNK], however it would split.
	{"word of 100 chars", strings.Repeat("x", 100), slices.Concat([]string{"xx"}, slices.Repeat([]string{"##xx"}, 49)), slices.Concat([]int{22038}, slices.Repeat([]int{20348}, 49))},
	{"word of 101 chars", strings.Repeat("x", 101), []string{"[UNK]"}, []int{100}},
	{"long word then word", strings.Repeat("a", 150) + " b", []string{"[UNK]", "b"}, []int{100, 1038}},
	// Characters are counted after normalization: é is one character.
	{"100 accented chars", strings.Repeat("é", 100), slices.Concat([]string{"ee"}, slices.Repeat([]string{"##ee"}, 49)), slices.Concat([]int{25212}, slices.Repeat([]int{4402}, 49))},
}

func TestTokenizeMatchesHuggingFace(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			toks := tok.Tokenize(tt.text)
			var pieces []string
			var ids []int
			for _, x := range toks {
				pieces = append(pieces, x.Text)
				ids = append(ids, x.ID)
			}
			if !slices.Equal(pieces, tt.pieces) || !slices.Equal(ids, tt.ids) {
				t.Errorf("Tokenize(%q)\n got pieces %q ids %v\nwant pieces %q ids %v", tt.text, pieces, ids, tt.pieces, tt.ids)
			}
			if n := tok.Count(tt.text); n != len(tt.ids) {
				t.Errorf("Count(%q) = %d, want %d", tt.text, n, len(tt.ids))
			}
		})
	}
}

func TestGoldenIDsAreTheirPieces(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	for _, tt := range goldenTests {
		for i, id := range tt.ids {
			if got := tok.vocab.entry(id); got != tt.pieces[i] {
				t.Errorf("%s: id %d is %q in the vocabulary, the table says %q", tt.name, id, got, tt.pieces[i])
			}
		}
	}
}

func TestEncodeAddsCLSAndSEP(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	tests := []struct {
		text string
		want []int
	}{
		{"Hello, world!", []int{101, 7592, 1010, 2088, 999, 102}},
		{"", []int{101, 102}},
		{"Café", []int{101, 7668, 102}},
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestOffsetsPointIntoTheOriginalText(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	tests := []struct {
		text string
		want []string // text[Start:End] of each token
	}{
		{"Hello, world!", []string{"Hello", ",", "world", "!"}},
		{"  Café au lait ", []string{"Café", "au", "lai", "t"}},
		{"CAFÉ déjà", []string{"CAFÉ", "dé", "jà"}},
		{"unaffable", []string{"una", "ffa", "ble"}},
		// e + U+0301 + t + é is the word "ete": "et" (with the dropped
		// mark inside it), then "##e" from é.
		{"e\u0301t\u00e9", []string{"e\u0301t", "\u00e9"}},
		{"İstanbul", []string{"İstanbul"}},
		{"野口 Rika", []string{"野", "口", "Ri", "ka"}},
		{"hi😀 there", []string{"hi😀", "there"}},
		{"a\x00b c", []string{"a\x00b", "c"}},
		{"zw\u200bsp", []string{"z", "w\u200bs", "p"}},
		{"x[SEP]y", []string{"x", "[SEP]", "y"}},
		{strings.Repeat("é", 101) + " ok", []string{strings.Repeat("é", 101), "ok"}},
		// One syllable becomes three jamo: the pieces share its bytes.
		{"한국", []string{"한", "한", "한", "국", "국", "국"}},
	}
	for _, tt := range tests {
		toks := tok.Tokenize(tt.text)
		var got []string
		for _, x := range toks {
			got = append(got, tt.text[x.Start:x.End])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Tokenize(%q) spans %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestVocab(t *testing.T) {
	t.Parallel()
	if got := newTestTokenizer(t).Vocab(); got != 30522 {
		t.Errorf("Vocab() = %d, want 30522", got)
	}
}

// TestVocabularyIsTheModels checks the embedded vocab.txt against the
// model's tokenizer.json it was derived from, and that the settings this
// package reimplements are the file's.
func TestVocabularyIsTheModels(t *testing.T) {
	t.Parallel()
	f, err := os.Open(evaldata.Path("minilm-tokenizer/tokenizer.json.gz"))
	if err != nil {
		t.Skipf("no tokenizer.json to compare with: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := hex.EncodeToString(sum[:]), "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0"; got != want {
		t.Fatalf("tokenizer.json sha256 %s, want %s (the file NOTICE names)", got, want)
	}
	var file struct {
		AddedTokens []struct {
			ID         int    `json:"id"`
			Content    string `json:"content"`
			Normalized bool   `json:"normalized"`
			SingleWord bool   `json:"single_word"`
		} `json:"added_tokens"`
		Normalizer struct {
			Type               string `json:"type"`
			CleanText          bool   `json:"clean_text"`
			HandleChineseChars bool   `json:"handle_chinese_chars"`
			StripAccents       *bool  `json:"strip_accents"`
			Lowercase          bool   `json:"lowercase"`
		} `json:"normalizer"`
		PreTokenizer struct {
			Type string `json:"type"`
		} `json:"pre_tokenizer"`
		Model struct {
			Type                    string         `json:"type"`
			UnkToken                string         `json:"unk_token"`
			ContinuingSubwordPrefix string         `json:"continuing_subword_prefix"`
			MaxInputCharsPerWord    int            `json:"max_input_chars_per_word"`
			Vocab                   map[string]int `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	n := file.Normalizer
	// strip_accents null means "as lowercase", so true.
	if n.Type != "BertNormalizer" || !n.CleanText || !n.HandleChineseChars || !n.Lowercase || (n.StripAccents != nil && !*n.StripAccents) {
		t.Errorf("normalizer %+v, want BertNormalizer with every step on", n)
	}
	if file.PreTokenizer.Type != "BertPreTokenizer" {
		t.Errorf("pre-tokenizer %q, want BertPreTokenizer", file.PreTokenizer.Type)
	}
	m := file.Model
	if m.Type != "WordPiece" || m.UnkToken != "[UNK]" || m.ContinuingSubwordPrefix != continuation || m.MaxInputCharsPerWord != maxCharsPerWord {
		t.Errorf("model %s unk %q prefix %q max chars %d, want WordPiece [UNK] %q %d",
			m.Type, m.UnkToken, m.ContinuingSubwordPrefix, m.MaxInputCharsPerWord, continuation, maxCharsPerWord)
	}
	tok := newTestTokenizer(t)
	if len(m.Vocab) != tok.Vocab() {
		t.Errorf("tokenizer.json has %d entries, vocab.txt %d", len(m.Vocab), tok.Vocab())
	}
	for s, id := range m.Vocab {
		if id < 0 || id >= tok.Vocab() || tok.vocab.entry(id) != s {
			t.Errorf("tokenizer.json maps %q to %d; vocab.txt does not", s, id)
		}
	}
	var special []string
	for _, a := range file.AddedTokens {
		if a.Normalized || a.SingleWord || tok.vocab.entry(a.ID) != a.Content {
			t.Errorf("added token %+v is not matched the way this package matches it", a)
		}
		special = append(special, a.Content)
	}
	if !slices.Equal(special, specialTokens[:]) {
		t.Errorf("added tokens %q, want %q", special, specialTokens)
	}
}

func TestCountMatchesTokenizeOnRealText(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	for _, text := range tiltest.Texts(t, 100) {
		toks := tok.Tokenize(text)
		if n := tok.Count(text); n != len(toks) {
			t.Fatalf("Count = %d, len(Tokenize) = %d for %.60q", n, len(toks), text)
		}
		checkTokens(t, tok, text, toks)
	}
}

func TestSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	text := strings.Repeat(sampleEnglish, 4)
	want := tok.Tokenize(text)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got := tok.Tokenize(text); !slices.Equal(got, want) {
					t.Error("concurrent Tokenize gave another result")
					return
				}
			}
		})
	}
	wg.Wait()
}

// checkTokens checks what holds of any tokenization: offsets in range and
// non-decreasing, each token covering at least one byte, and each token's
// text the vocabulary entry of its id.
func checkTokens(t *testing.T, tok *Tokenizer, text string, toks []Token) {
	t.Helper()
	prev := Token{}
	for i, x := range toks {
		if x.Start < 0 || x.End > len(text) || x.Start >= x.End {
			t.Fatalf("token %d %+v: offsets out of range of a %d-byte text %q", i, x, len(text), text)
		}
		if x.Start < prev.Start || x.End < prev.End {
			t.Fatalf("token %d %+v goes back from %+v in %q", i, x, prev, text)
		}
		if x.ID < 0 || x.ID >= tok.Vocab() || tok.vocab.entry(x.ID) != x.Text {
			t.Fatalf("token %d %+v: text is not the vocabulary entry of its id", i, x)
		}
		prev = x
	}
}

// sampleEnglish is about a kilobyte of plain English prose, for tests and
// benchmarks that should not depend on a corpus.
const sampleEnglish = `The pipeline turns every change in the warehouse into retrieval features within a fraction of a second. A document is cleaned first: paragraph breaks are kept, decorative Unicode letters are folded back to plain ones, and emoji are dropped, because they carry little meaning for the embedding model and cost tokens. Then the text is cut into overlapping windows of word pieces, counted with the same tokenizer the model uses, so that no chunk is silently truncated when it is embedded.

Chunk boundaries prefer the end of a paragraph, then the end of a sentence, then any space between words. A boundary is never placed inside a word, since half a word is noise to both the reader and the retriever. Overlap between neighbouring chunks keeps a sentence that straddles a boundary findable from either side.

Short documents, such as most social posts, become a single chunk. Long articles become several, each small enough for the model's window of two hundred and fifty-six word pieces, including the two special tokens it adds.
`

func TestTokensIsTokenize(t *testing.T) {
	t.Parallel()
	tok := newTestTokenizer(t)
	texts := []string{sampleEnglish, "unaffable [SEP] x", strings.Repeat("ab", 60) + " café"}
	for _, tt := range goldenTests {
		texts = append(texts, tt.text)
	}
	for _, text := range texts {
		want := tok.Tokenize(text)
		got := slices.Collect(tok.Tokens(text))
		if !slices.Equal(got, want) {
			t.Errorf("Tokens(%.40q) = %v, Tokenize %v", text, got, want)
		}
		// Stopping early stops.
		n := 0
		for range tok.Tokens(text) {
			n++
			if n == 2 {
				break
			}
		}
		if n > 2 {
			t.Errorf("iteration went on after break")
		}
	}
}
