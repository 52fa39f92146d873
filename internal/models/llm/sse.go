package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// maxSSEEvent bounds one line, and one event's data, of a server-sent
// event stream. A chunk of one token is a few hundred bytes; a server
// that sends a megabyte without a line break is broken, and must not make
// the decoder hold an unbounded buffer.
const maxSSEEvent = 1 << 20

// sseDecoder reassembles server-sent events (the text/event-stream
// format) from pieces of a byte stream cut anywhere, even inside a line
// or between the '\r' and '\n' of a line break: feeding a stream in one
// piece or in any number of pieces gives the same events. Only the data
// of events is kept (TGI and OpenAI-compatible servers send nothing
// else); an event's data lines are joined with '\n', as the format says.
type sseDecoder struct {
	line    []byte // the current line so far
	data    []byte // the current event's data
	hasData bool   // the current event has a data line (its data may be empty)
	afterCR bool   // the last byte fed was '\r': a '\n' first in the next piece ends no line
}

// feed decodes p and calls fn with the data of each event it completes,
// stopping at the first error of fn. fn must not keep data after it
// returns: the decoder reuses the buffer.
func (d *sseDecoder) feed(p []byte, fn func(data []byte) error) error {
	for len(p) > 0 {
		if d.afterCR {
			d.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if len(d.line)+len(p) > maxSSEEvent {
				return errSSETooLong()
			}
			d.line = append(d.line, p...)
			return nil
		}
		if len(d.line)+i > maxSSEEvent {
			return errSSETooLong()
		}
		d.line = append(d.line, p[:i]...)
		d.afterCR = p[i] == '\r'
		p = p[i+1:]
		err := d.endLine(fn)
		d.line = d.line[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// end finishes the stream. A last line without its line break and a last
// event without its blank line are still dispatched: a container that
// omits the final blank line loses nothing, and a stream cut inside a
// chunk's JSON fails when that JSON is decoded.
func (d *sseDecoder) end(fn func(data []byte) error) error {
	if len(d.line) > 0 {
		err := d.endLine(fn)
		d.line = d.line[:0]
		if err != nil {
			return err
		}
	}
	return d.endLine(fn) // d.line is empty: dispatch the event, if any
}

// endLine handles the complete line in d.line: a blank line dispatches the
// event, a data line adds to it.
func (d *sseDecoder) endLine(fn func(data []byte) error) error {
	if len(d.line) == 0 {
		if !d.hasData {
			return nil
		}
		data := d.data
		d.data, d.hasData = d.data[:0], false
		return fn(data)
	}
	value, ok := sseData(d.line)
	if !ok {
		return nil
	}
	if d.hasData {
		d.data = append(d.data, '\n')
	}
	if len(d.data)+len(value) > maxSSEEvent {
		return errSSETooLong()
	}
	d.data = append(d.data, value...)
	d.hasData = true
	return nil
}

func errSSETooLong() error {
	return fmt.Errorf("a server-sent event longer than %d bytes", maxSSEEvent)
}

// sseData returns the value of a "data" line of an event stream ("data:
// x" or "data:x" gives "x"; a bare "data" gives ""), and false for any
// other line: a comment (":..."), or another field (event, id, retry).
func sseData(line []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("data"))
	if !ok {
		return nil, false
	}
	if len(rest) == 0 {
		return rest, true
	}
	if rest[0] != ':' {
		return nil, false // a field whose name only starts with "data"
	}
	rest = rest[1:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return rest, true
}

// chunkEvent is what one event of a chat completions stream says.
type chunkEvent struct {
	text     string // content of the first choice's delta
	finished bool   // the first choice has a finish reason
	usage    *Usage // set when the chunk carries usage
	done     bool   // the "[DONE]" sentinel that ends OpenAI-style streams
	empty    bool   // no data (a keep-alive)
}

// wireChunk is a chat.completion.chunk as OpenAI-compatible servers
// (TGI's Messages API among them) send it, with the error shapes they use
// instead: OpenAI and vLLM {"error": {"message": ...}}, TGI {"error":
// "...", "error_type": "..."}, older vLLM {"object": "error", "message":
// ...}.
type wireChunk struct {
	Object  string `json:"object"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error     json.RawMessage `json:"error"`
	ErrorType string          `json:"error_type"`
	Message   string          `json:"message"`
}

// decodeChunk decodes the data of one event of a chat completions stream.
func decodeChunk(data []byte) (chunkEvent, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return chunkEvent{empty: true}, nil
	case bytes.Equal(data, []byte("[DONE]")):
		return chunkEvent{done: true}, nil
	}
	var c wireChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return chunkEvent{}, fmt.Errorf("decode a chat completion chunk %.200q: %w", data, err)
	}
	if msg, ok := c.errorMessage(); ok {
		return chunkEvent{}, fmt.Errorf("the model server reported an error: %s", msg)
	}
	var ev chunkEvent
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // one choice is asked for; ignore any other a server numbers
		}
		ev.text += ch.Delta.Content
		ev.finished = ev.finished || ch.FinishReason != nil && *ch.FinishReason != ""
	}
	if c.Usage != nil {
		ev.usage = &Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens}
	}
	return ev, nil
}

// errorMessage returns the message of an error chunk, in any of the
// shapes of wireChunk.
func (c *wireChunk) errorMessage() (string, bool) {
	raw := bytes.TrimSpace(c.Error)
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if c.ErrorType != "" {
				s = c.ErrorType + ": " + s
			}
			return s, true
		}
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
			if obj.Type != "" {
				return obj.Type + ": " + obj.Message, true
			}
			return obj.Message, true
		}
		return string(raw), true
	}
	if c.Object == "error" {
		return c.Message, true
	}
	return "", false
}
