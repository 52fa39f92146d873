package embed

// Stem returns the Porter stem of a lowercase English word ("relational" →
// "relat", "studies" → "studi"), so that a query and a chunk that use two
// forms of one word still match. It is M. F. Porter's 1980 algorithm as in
// his reference C implementation (the one Lucene's PorterStemFilter
// follows). Words that are not all ASCII letters a-z, and words of two
// letters or fewer, are returned unchanged.
func Stem(word string) string {
	var p porter
	b := p.run(word)
	if b == nil || string(b) == word { // the comparison does not allocate
		return word
	}
	return string(b)
}

// run stems word and returns the stem as a slice of p's buffer, or nil
// when word is not stemmed at all (it is its own stem). Callers that only
// hash the stem avoid allocating a string for it.
func (p *porter) run(word string) []byte {
	if len(word) <= 2 || len(word) > maxTokenBytes {
		return nil
	}
	for i := 0; i < len(word); i++ {
		if word[i] < 'a' || word[i] > 'z' {
			return nil
		}
	}
	p.k, p.j = len(word)-1, 0
	copy(p.b[:], word)
	p.step1ab()
	if p.k > 0 {
		p.step1c()
		p.step2()
		p.step3()
		p.step4()
		p.step5()
	}
	return p.b[:p.k+1]
}

// porter is the stemmer's state: b[0..k] is the word being stemmed and j
// marks the end of the stem left by the last successful ends() match. No
// step makes a word longer than it was, so it always fits in b.
type porter struct {
	b    [maxTokenBytes]byte
	k, j int
}

// cons reports whether b[i] is a consonant; y is one after a vowel or at
// the start.
func (s *porter) cons(i int) bool {
	switch s.b[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !s.cons(i-1)
	}
	return true
}

// m counts the vowel-consonant sequences in b[0..j]: the "measure" of the
// stem, [C](VC)^m[V].
func (s *porter) m() int {
	n, i := 0, 0
	for {
		if i > s.j {
			return n
		}
		if !s.cons(i) {
			break
		}
		i++
	}
	i++
	for {
		for {
			if i > s.j {
				return n
			}
			if s.cons(i) {
				break
			}
			i++
		}
		i++
		n++
		for {
			if i > s.j {
				return n
			}
			if !s.cons(i) {
				break
			}
			i++
		}
		i++
	}
}

// vowelInStem reports whether b[0..j] has a vowel.
func (s *porter) vowelInStem() bool {
	for i := 0; i <= s.j; i++ {
		if !s.cons(i) {
			return true
		}
	}
	return false
}

// doubleC reports whether b[i-1..i] is a double consonant.
func (s *porter) doubleC(i int) bool {
	return i >= 1 && s.b[i] == s.b[i-1] && s.cons(i)
}

// cvc reports whether b[i-2..i] is consonant-vowel-consonant with the last
// not w, x or y: the shape of short words like "hop" that keep their e
// ("hoping" → "hope").
func (s *porter) cvc(i int) bool {
	if i < 2 || !s.cons(i) || s.cons(i-1) || !s.cons(i-2) {
		return false
	}
	switch s.b[i] {
	case 'w', 'x', 'y':
		return false
	}
	return true
}

// ends reports whether b[0..k] ends with suffix and, if so, sets j to the
// end of what precedes it.
func (s *porter) ends(suffix string) bool {
	n := len(suffix)
	if n > s.k+1 || string(s.b[s.k+1-n:s.k+1]) != suffix {
		return false
	}
	s.j = s.k - n
	return true
}

// setTo replaces b[j+1..k] with r.
func (s *porter) setTo(r string) {
	copy(s.b[s.j+1:], r)
	s.k = s.j + len(r)
}

// r replaces the matched suffix with rep when the stem's measure is > 0.
func (s *porter) r(rep string) {
	if s.m() > 0 {
		s.setTo(rep)
	}
}

// step1ab removes plurals and -ed or -ing: caresses → caress, ponies →
// poni, meetings → meet, agreed → agree (then agre).
func (s *porter) step1ab() {
	if s.b[s.k] == 's' {
		switch {
		case s.ends("sses"):
			s.k -= 2
		case s.ends("ies"):
			s.setTo("i")
		case s.b[s.k-1] != 's':
			s.k--
		}
	}
	if s.ends("eed") {
		if s.m() > 0 {
			s.k--
		}
		return
	}
	if (s.ends("ed") || s.ends("ing")) && s.vowelInStem() {
		s.k = s.j
		switch {
		case s.ends("at"):
			s.setTo("ate")
		case s.ends("bl"):
			s.setTo("ble")
		case s.ends("iz"):
			s.setTo("ize")
		case s.doubleC(s.k):
			switch s.b[s.k] {
			case 'l', 's', 'z':
			default:
				s.k--
			}
		default:
			s.j = s.k
			if s.m() == 1 && s.cvc(s.k) {
				s.setTo("e")
			}
		}
	}
}

// step1c turns a final y into i when there is another vowel in the stem.
func (s *porter) step1c() {
	if s.ends("y") && s.vowelInStem() {
		s.b[s.k] = 'i'
	}
}

// suffixRule maps a suffix to its replacement.
type suffixRule struct{ suffix, rep string }

// step2Rules and step3Rules are keyed by the penultimate (step 2) or last
// (step 3) letter, as in the reference implementation, so only a few
// suffixes are tried per word.
var step2Rules = map[byte][]suffixRule{
	'a': {{"ational", "ate"}, {"tional", "tion"}},
	'c': {{"enci", "ence"}, {"anci", "ance"}},
	'e': {{"izer", "ize"}},
	'l': {{"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"}},
	'o': {{"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"}},
	's': {{"alism", "al"}, {"iveness", "ive"}, {"fulness", "ful"}, {"ousness", "ous"}},
	't': {{"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"}},
	'g': {{"logi", "log"}},
}

var step3Rules = map[byte][]suffixRule{
	'e': {{"icate", "ic"}, {"ative", ""}, {"alize", "al"}},
	'i': {{"iciti", "ic"}},
	'l': {{"ical", "ic"}, {"ful", ""}},
	's': {{"ness", ""}},
}

// step4Suffixes are removed when the measure of what remains is > 1.
var step4Suffixes = map[byte][]string{
	'a': {"al"},
	'c': {"ance", "ence"},
	'e': {"er"},
	'i': {"ic"},
	'l': {"able", "ible"},
	'n': {"ant", "ement", "ment", "ent"},
	'o': {"ion", "ou"},
	's': {"ism"},
	't': {"ate", "iti"},
	'u': {"ous"},
	'v': {"ive"},
	'z': {"ize"},
}

// step2 maps double suffixes to single ones: -ization → -ize.
func (s *porter) step2() {
	if s.k < 1 {
		return
	}
	s.applyRules(step2Rules[s.b[s.k-1]])
}

// step3 handles -ic-, -full, -ness and the like.
func (s *porter) step3() {
	s.applyRules(step3Rules[s.b[s.k]])
}

func (s *porter) applyRules(rules []suffixRule) {
	for _, r := range rules {
		if s.ends(r.suffix) {
			s.r(r.rep)
			return
		}
	}
}

// step4 takes off -ant, -ence and the like in context <c>vcvc<v>.
func (s *porter) step4() {
	if s.k < 1 {
		return
	}
	for _, suf := range step4Suffixes[s.b[s.k-1]] {
		if !s.ends(suf) {
			continue
		}
		if suf == "ion" && (s.j < 0 || s.b[s.j] != 's' && s.b[s.j] != 't') {
			return
		}
		if s.m() > 1 {
			s.k = s.j
		}
		return
	}
}

// step5 removes a final -e when the measure is > 1 (or 1 and not cvc), and
// turns -ll into -l when the measure is > 1.
func (s *porter) step5() {
	s.j = s.k
	if s.b[s.k] == 'e' {
		a := s.m()
		if a > 1 || a == 1 && !s.cvc(s.k-1) {
			s.k--
		}
	}
	if s.b[s.k] == 'l' && s.doubleC(s.k) && s.m() > 1 {
		s.k--
	}
}
