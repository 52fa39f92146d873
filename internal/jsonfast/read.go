package jsonfast

import (
	"encoding/binary"
	"unicode/utf8"
)

// plainByte marks the bytes a string holds as they are: everything but the
// quote, the backslash, control characters and non-ASCII bytes.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// PlainRun returns the index of the first byte from j on that is not
// plain, or len(d). It tests eight bytes at a time: strings are most of a
// body's bytes.
func PlainRun(d []byte, j int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; j+8 <= len(d); j += 8 {
		x := binary.LittleEndian.Uint64(d[j:])
		q, b := x^(ones*'"'), x^(ones*'\\')
		// The classic tests for a byte below 0x20 and for a zero byte
		// (after the XOR: a quote or a backslash), plus the high bits.
		// Any hit, even a false one past the first, makes the byte loop
		// below decide.
		below := (x - ones*0x20) &^ x
		quote := (q - ones) &^ q
		slash := (b - ones) &^ b
		if (below|quote|slash|x)&highs != 0 {
			break
		}
	}
	for j < len(d) && plainByte[d[j]] {
		j++
	}
	return j
}

func utf16IsSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

// Hex4 reads the four hex digits of a \\u escape.
func Hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// ReadString reads the JSON string whose opening quote is d[i], as
// json.Unmarshal would: valid UTF-8 is kept as is and escapes are decoded.
// It returns the string, the index just past its closing quote and buf
// (scratch space for escaped strings, to pass to the next call). It gives
// up (ok false) on what it cannot read exactly as encoding/json does (a
// lone surrogate escape, invalid UTF-8, which json.Unmarshal replaces with
// U+FFFD) as on a broken string: the caller then lets encoding/json decide.
func ReadString(d []byte, i int, buf []byte) (s string, next int, scratch []byte, ok bool) {
	if i >= len(d) || d[i] != '"' {
		return "", 0, buf, false
	}
	start := i + 1
	j := PlainRun(d, start)
	if j < len(d) && d[j] == '"' {
		return string(d[start:j]), j + 1, buf, true
	}
	// Decoded, the rest of the string is no longer than the rest of the
	// body: one buffer that size serves every escaped string of the body.
	if cap(buf) < len(d)-start {
		buf = make([]byte, 0, len(d)-start)
	}
	buf = append(buf[:0], d[start:j]...)
	for j < len(d) {
		// Text between escapes (paragraphs between \n) is copied a run
		// at a time, as before the first escape.
		if k := PlainRun(d, j); k > j {
			buf = append(buf, d[j:k]...)
			if j = k; j >= len(d) {
				break
			}
		}
		c := d[j]
		switch {
		case c == '"':
			return string(buf), j + 1, buf[:0], true
		case c == '\\':
			if j+1 >= len(d) {
				return "", 0, buf, false
			}
			switch e := d[j+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				// d[j:j+6] is \uXXXX.
				r, ok := Hex4(d[j+2:])
				if !ok {
					return "", 0, buf, false
				}
				if utf16IsSurrogate(r) {
					// Only a high surrogate followed by an escaped low one.
					if r >= 0xDC00 || j+12 > len(d) || d[j+6] != '\\' || d[j+7] != 'u' {
						return "", 0, buf, false
					}
					lo, ok := Hex4(d[j+8:])
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return "", 0, buf, false
					}
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					j += 6
				}
				buf = utf8.AppendRune(buf, r)
				j += 4
			default:
				return "", 0, buf, false
			}
			j += 2
		case c < 0x20:
			return "", 0, buf, false
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			j++
		default:
			r, size := utf8.DecodeRune(d[j:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, buf, false
			}
			buf = append(buf, d[j:j+size]...)
			j += size
		}
	}
	return "", 0, buf, false
}
