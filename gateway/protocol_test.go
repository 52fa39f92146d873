package gateway

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/twin-llm/twin/schemas"
)

var testLimits = parseLimits{maxQueryChars: DefaultMaxQueryChars, maxCommentChars: DefaultMaxCommentChars}

func TestParseClientMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		frame string
		want  ClientMessage
		code  string
	}{
		{`{"type":"ask","query":"hi"}`, ClientMessage{Type: MsgAsk, Query: "hi"}, ""},
		{`{"type":"ask","id":"r1","query":"hi","author":"Ann","category":"posts","rating":1}`, ClientMessage{Type: MsgAsk, ID: "r1", Query: "hi", Author: "Ann", Category: "posts"}, ""},
		{`{"type":"ask","query":"hi","future_field":{"x":1}}`, ClientMessage{Type: MsgAsk, Query: "hi"}, ""},
		{`{"type":"resume","id":"r1","after":7}`, ClientMessage{Type: MsgResume, ID: "r1", After: 7}, ""},
		{`{"type":"resume","id":"r1"}`, ClientMessage{Type: MsgResume, ID: "r1"}, ""},
		{`{"type":"feedback","id":"r1","rating":-1,"comment":"meh"}`, ClientMessage{Type: MsgFeedback, ID: "r1", Rating: -1, Comment: "meh"}, ""},
		{``, ClientMessage{}, CodeBadJSON},
		{`null`, ClientMessage{}, CodeUnknownType},
		{`"ask"`, ClientMessage{}, CodeBadJSON},
		{`{"type":"ask","query":"hi"} {}`, ClientMessage{}, CodeBadJSON},
		{`{"type":7}`, ClientMessage{}, CodeBadRequest},
		{`{"type":"ask","query":"` + strings.Repeat("é", DefaultMaxQueryChars+1) + `"}`, ClientMessage{}, CodeTooLong},
		{`{"type":"ask","query":"hi","author":"` + strings.Repeat("a", maxAuthorBytes+1) + `"}`, ClientMessage{}, CodeTooLong},
		{`{"type":"ask","id":"` + strings.Repeat("a", 129) + `","query":"hi"}`, ClientMessage{}, CodeBadRequest},
		{`{"type":"feedback","id":"r1","rating":1,"comment":"` + strings.Repeat("c", DefaultMaxCommentChars+1) + `"}`, ClientMessage{}, CodeTooLong},
		{`{"type":"feedback","id":"r1"}`, ClientMessage{}, CodeBadRequest},
		{`{"type":"resume","id":"r1","after":1e400}`, ClientMessage{}, CodeBadRequest},
	} {
		got, pe := parseClientMessage([]byte(tc.frame), testLimits)
		code := ""
		if pe != nil {
			code = pe.code
		}
		if code != tc.code || got != tc.want {
			short := tc.frame
			if len(short) > 80 {
				short = short[:80] + "..."
			}
			t.Errorf("parse %s = %+v, %v; want %+v, code %q", short, got, pe, tc.want, tc.code)
		}
	}
}

// FuzzClientMessage feeds arbitrary frames to the parser of client
// frames: it never panics, and whatever it accepts satisfies the
// protocol's invariants and survives a round trip; whatever it refuses
// gets a known code and never echoes an invalid id.
func FuzzClientMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ask","query":"hi"}`, `{"type":"ask","id":"r-1","query":"q","author":"Ann"}`,
		`{"type":"resume","id":"r_2","after":3}`, `{"type":"feedback","id":"x","rating":-1,"comment":"c"}`,
		`{"type":"ask","query":" "}`, `{"type":"resume","id":"a.b"}`, `{"type":"feedback","id":"x","rating":2}`,
		`{"TYPE":"ASK","Query":"q"}`, `{"type":"ask","query":"q","query":""}`, `{"type":"resume","id":"x","after":-1}`,
		`{"type":"resume","id":"x","after":9223372036854775808}`, `{"type":["ask"]}`, `{"type":"ask","id":null,"query":"\u0000"}`,
		`[]`, `null`, `0`, `"x"`, "\xff\xfe{}", `{"type":"ask","query":"` + strings.Repeat("é", 5) + `"}`,
		`{"type":"feedback","id":"x","document_id":"d1","helpful":true}`, `{"type":"feedback","id":"x","document_id":"d1","helpful":false,"query":"q"}`,
		`{"type":"feedback","id":"x","document_id":"d1"}`, `{"type":"feedback","id":"x","helpful":true}`,
		`{"type":"feedback","id":"x","document_id":"d1","helpful":true,"rating":1}`, `{"type":"feedback","id":"x","document_id":"","helpful":null,"rating":1}`,
	} {
		f.Add([]byte(seed))
	}
	lim := parseLimits{maxQueryChars: 5, maxCommentChars: 5}
	codes := map[string]bool{CodeBadJSON: true, CodeBadRequest: true, CodeUnknownType: true, CodeTooLong: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, pe := parseClientMessage(data, lim)
		if pe != nil {
			if !codes[pe.code] || pe.msg == "" {
				t.Fatalf("refused %q with code %q message %q", data, pe.code, pe.msg)
			}
			if pe.id != "" && !schemas.ValidToken(pe.id) {
				t.Fatalf("refusal of %q echoes the invalid id %q", data, pe.id)
			}
			if f := pe.frame(); f.Type != MsgError || !json.Valid(encodeFrame(f)) {
				t.Fatalf("refusal of %q makes the frame %+v", data, f)
			}
			return
		}
		switch m.Type {
		case MsgAsk:
			if strings.TrimSpace(m.Query) == "" || utf8.RuneCountInString(m.Query) > lim.maxQueryChars || m.ID != "" && !schemas.ValidToken(m.ID) {
				t.Fatalf("accepted the ask %+v from %q", m, data)
			}
		case MsgResume:
			if !schemas.ValidToken(m.ID) || m.After < 0 {
				t.Fatalf("accepted the resume %+v from %q", m, data)
			}
		case MsgFeedback:
			rating := (m.Rating == 1 || m.Rating == -1) && m.DocumentID == "" && m.Helpful == nil &&
				utf8.RuneCountInString(m.Comment) <= lim.maxCommentChars
			judgment := m.Rating == 0 && m.DocumentID != "" && len(m.DocumentID) <= maxDocumentIDBytes && m.Helpful != nil &&
				utf8.RuneCountInString(m.Query) <= lim.maxQueryChars
			if !schemas.ValidToken(m.ID) || !rating && !judgment {
				t.Fatalf("accepted the feedback %+v from %q", m, data)
			}
		default:
			t.Fatalf("accepted type %q from %q", m.Type, data)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if m2, pe := parseClientMessage(again, lim); pe != nil || !reflect.DeepEqual(m2, m) {
			// Invalid UTF-8 becomes U+FFFD when marshaled, which may change
			// the character count; every other message must round-trip.
			if utf8.Valid(data) {
				t.Fatalf("%+v does not round-trip: %s parses as %+v, %v", m, again, m2, pe)
			}
		}
	})
}

func TestIPLimitersStayBounded(t *testing.T) {
	t.Parallel()
	l := newIPLimiters(rate.Limit(1), 1, 3, time.Minute)
	now := time.Unix(1000, 0)
	for i := range 10 {
		if !l.allow("10.0.0."+strconv.Itoa(i), now) {
			t.Fatalf("first ask of a new address refused")
		}
		if l.len() > 3 {
			t.Fatalf("%d addresses tracked, want at most 3", l.len())
		}
	}
	if l.allow("10.0.0.9", now) {
		t.Fatal("second ask within the second allowed with burst 1")
	}
	// Idle entries expire at the next sweep.
	later := now.Add(2 * time.Minute)
	l.allow("10.0.1.1", later)
	if l.len() != 1 {
		t.Fatalf("after the idle time, %d addresses tracked, want only the new one", l.len())
	}
}

func TestClientKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:443", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},
		{"@", "@"},
	} {
		if got := clientKey(tc.remote); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
