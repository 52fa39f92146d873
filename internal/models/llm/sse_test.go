package llm

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// sseEvents feeds the pieces to a decoder, ends it, and returns the data of
// every event.
func sseEvents(pieces ...[]byte) ([]string, error) {
	var d sseDecoder
	var out []string
	collect := func(data []byte) error {
		out = append(out, string(data))
		return nil
	}
	for _, p := range pieces {
		if err := d.feed(p, collect); err != nil {
			return out, err
		}
	}
	return out, d.end(collect)
}

func TestSSEDecoderReassemblesEventsCutAnywhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream string
		want   []string
	}{
		{"TGI style, no space", "data:{\"a\":1}\n\ndata:{\"b\":2}\n\n", []string{`{"a":1}`, `{"b":2}`}},
		{"OpenAI style", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, "[DONE]"}},
		{"CRLF and CR line ends", "data: x\r\n\r\ndata: y\r\rdata: z\n\n", []string{"x", "y", "z"}},
		{"multi-line data is joined with newlines", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"comments and other fields are ignored", ": keep-alive\nevent: chunk\nid: 7\nretry: 10\ndata: x\n\n", []string{"x"}},
		{"a field that only starts with data", "datum: x\ndata\n\n", []string{""}},
		{"blank lines without data dispatch nothing", "\n\n\n", nil},
		{"the last event needs no blank line", "data: x\n\ndata: y", []string{"x", "y"}},
		{"an empty stream", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			whole, err := sseEvents([]byte(tc.stream))
			if err != nil || !slices.Equal(whole, tc.want) {
				t.Fatalf("in one piece: %q, %v; want %q", whole, err, tc.want)
			}
			for cut := range len(tc.stream) + 1 {
				got, err := sseEvents([]byte(tc.stream[:cut]), []byte(tc.stream[cut:]))
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("cut at %d: %q, %v; want %q", cut, got, err, tc.want)
				}
			}
			var bytewise [][]byte
			for i := range len(tc.stream) {
				bytewise = append(bytewise, []byte{tc.stream[i]})
			}
			if got, err := sseEvents(bytewise...); err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("byte by byte: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSSEDecoderBoundsItsBuffers(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), maxSSEEvent/4)
	for _, tc := range []struct {
		name   string
		pieces [][]byte
	}{
		{"a line without end", [][]byte{[]byte("data: "), long, long, long, long, long}},
		{"an event without end", slices.Repeat([][]byte{[]byte("data: "), long, []byte("\n")}, 5)},
	} {
		if _, err := sseEvents(tc.pieces...); err == nil || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("%s: err %v, want the size error", tc.name, err)
		}
	}
}

func TestSSEDecoderStopsAtTheCallbacksError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	var d sseDecoder
	calls := 0
	err := d.feed([]byte("data: a\n\ndata: b\n\n"), func([]byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls, want stop after 1", err, calls)
	}
}

func TestDecodeChunkReadsContentFinishUsageAndErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		data    string
		want    chunkEvent
		wantErr string
	}{
		{"content", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}`,
			chunkEvent{text: "Hel"}, ""},
		{"null content", `{"choices":[{"index":0,"delta":{"content":null},"finish_reason":null}]}`, chunkEvent{}, ""},
		{"finish and usage (TGI's last chunk)", `{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`,
			chunkEvent{text: "!", finished: true, usage: &Usage{PromptTokens: 12, CompletionTokens: 3}}, ""},
		{"usage alone (OpenAI's last chunk)", `{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}`,
			chunkEvent{usage: &Usage{PromptTokens: 5, CompletionTokens: 2}}, ""},
		{"other choices are ignored", `{"choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"}}]}`,
			chunkEvent{text: "yes"}, ""},
		{"done", " [DONE] ", chunkEvent{done: true}, ""},
		{"keep-alive", "", chunkEvent{empty: true}, ""},
		{"TGI error", `{"error":"Input validation error: too long","error_type":"validation"}`, chunkEvent{}, "validation: Input validation error: too long"},
		{"OpenAI error", `{"error":{"message":"overloaded","type":"server_error"}}`, chunkEvent{}, "server_error: overloaded"},
		{"old vLLM error", `{"object":"error","message":"bad"}`, chunkEvent{}, "reported an error: bad"},
		{"not JSON", `{"choices":[`, chunkEvent{}, "decode a chat completion chunk"},
		{"not an object", `42`, chunkEvent{}, "decode a chat completion chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeChunk([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.text != tc.want.text || got.finished != tc.want.finished || got.done != tc.want.done ||
				got.empty != tc.want.empty || (got.usage == nil) != (tc.want.usage == nil) ||
				got.usage != nil && *got.usage != *tc.want.usage {
				t.Errorf("got %+v (usage %v), want %+v (usage %v)", got, got.usage, tc.want, tc.want.usage)
			}
		})
	}
}

// FuzzSSE checks that no byte stream makes the decoder or the chunk
// decoder panic, and that the events do not depend on where the stream
// is cut into pieces (SageMaker's PayloadParts cut it anywhere).
func FuzzSSE(f *testing.F) {
	f.Add([]byte("data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n"), uint16(7), uint16(30))
	f.Add([]byte("data: a\r\n\r\n: c\rdata: b\n"), uint16(8), uint16(9))
	f.Add([]byte("data:{\"error\":{\"message\":\"x\"}}\n\n"), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, stream []byte, cut1, cut2 uint16) {
		i, j := int(cut1)%(len(stream)+1), int(cut2)%(len(stream)+1)
		if i > j {
			i, j = j, i
		}
		whole, errWhole := sseEvents(stream)
		cut, errCut := sseEvents(stream[:i], stream[i:j], stream[j:])
		if !slices.Equal(whole, cut) || (errWhole == nil) != (errCut == nil) {
			t.Fatalf("in one piece %q (%v), cut at %d and %d %q (%v)", whole, errWhole, i, j, cut, errCut)
		}
		for _, data := range whole {
			ev, err := decodeChunk([]byte(data))
			if err == nil && ev.done && (ev.text != "" || ev.usage != nil) {
				t.Errorf("[DONE] with content: %+v", ev)
			}
		}
	})
}
