package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/nats-io/nuid"
	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/gateway"
)

func newChatCmd(g *globals) *cobra.Command {
	var author string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "chat [QUESTION]",
		Short: "Ask the twin; the answer streams to the terminal",
		Long: `Ask the twin a question over the gateway's WebSocket (/v1/chat of --server) and print
the answer as it streams, then the sources it drew on.

With no QUESTION, chat reads questions from the standard input, one per line, and answers
each in turn (an empty line or end of input stops). If the connection drops while an answer
streams, chat reconnects and resumes it where it stopped, so nothing is lost or repeated.

With --json, it prints the final done message as JSON instead of the streamed text.`,
		Example: `  twin chat "What do you think about SQLite full-text search?"
  twin chat --author "Simon Willison"
  twin chat --server https://twin.example.com --token $TWIN_TOKEN "What is Datasette?"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &chatClient{g: g, author: author, json: asJSON, out: cmd.OutOrStdout()}
			defer c.close()
			if len(args) == 1 {
				return c.ask(cmd.Context(), args[0])
			}
			in := bufio.NewScanner(cmd.InOrStdin())
			for {
				fmt.Fprint(cmd.ErrOrStderr(), "> ")
				if !in.Scan() || strings.TrimSpace(in.Text()) == "" {
					return in.Err()
				}
				if err := c.ask(cmd.Context(), in.Text()); err != nil {
					var re *replyError
					if !errors.As(err, &re) {
						return err
					}
					fmt.Fprintln(cmd.ErrOrStderr(), "error:", err)
				}
			}
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "answer only from this author's writing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the done message as JSON")
	return cmd
}

// chatClient is one WebSocket session with the gateway, reopened when it
// drops.
type chatClient struct {
	g      *globals
	author string
	json   bool
	out    io.Writer
	conn   *websocket.Conn
}

// replyError is an error message of the gateway about one question: the
// session goes on.
type replyError struct{ code, message string }

func (e *replyError) Error() string { return e.message + " (" + e.code + ")" }

func (c *chatClient) dial(ctx context.Context) error {
	u := strings.TrimRight(c.g.server, "/") + "/v1/chat"
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	h := http.Header{}
	if c.g.token != "" {
		h.Set("Authorization", "Bearer "+c.g.token)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("the gateway at %s wants a token: set --token or TWIN_TOKEN", c.g.server)
		}
		return fmt.Errorf("reach twin at %s (is twin up running? set --server or TWIN_SERVER): %w", c.g.server, err)
	}
	conn.SetReadLimit(8 << 20)
	c.conn = conn
	return nil
}

func (c *chatClient) close() {
	if c.conn != nil {
		c.conn.Close(websocket.StatusNormalClosure, "bye")
	}
}

// ask sends one question and prints its answer. A dropped connection is
// reopened up to three times, resuming after the last token printed.
func (c *chatClient) ask(ctx context.Context, question string) error {
	id := strings.ReplaceAll(nuid.Next(), "-", "")
	msg := gateway.ClientMessage{Type: gateway.MsgAsk, ID: id, Query: question, Author: c.author}
	last := 0
	w := newAnswerWriter(c.out)
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			if err := c.dial(ctx); err != nil {
				return err
			}
		}
		err := wsjson.Write(ctx, c.conn, msg)
		if err == nil {
			err = c.read(ctx, id, &last, w)
		}
		var re *replyError
		if err == nil || errors.As(err, &re) || ctx.Err() != nil || attempt == 3 {
			return err
		}
		// The connection broke: resume on a new one.
		c.conn.CloseNow()
		c.conn = nil
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		// Before any token the ask itself may have been lost; asks are
		// idempotent by id, so asking again is safe.
		if last > 0 {
			msg = gateway.ClientMessage{Type: gateway.MsgResume, ID: id, After: last}
		}
	}
}

// read prints the reply to id until its done or error message, the
// answer's markdown formatted for a terminal by w.
func (c *chatClient) read(ctx context.Context, id string, last *int, w *answerWriter) error {
	for {
		var f gateway.ServerMessage
		if err := wsjson.Read(ctx, c.conn, &f); err != nil {
			return err
		}
		if f.ID != id && f.ID != "" {
			continue
		}
		switch f.Type {
		case gateway.MsgToken:
			if f.Seq <= *last {
				continue
			}
			*last = f.Seq
			if !c.json {
				w.Write(f.Text)
			}
		case gateway.MsgDone:
			if c.json {
				enc := json.NewEncoder(c.out)
				enc.SetIndent("", "  ")
				return enc.Encode(f)
			}
			if *last == 0 && f.Answer != "" {
				w.Write(f.Answer) // a reply that came without tokens
			}
			w.Flush()
			if len(f.Sources) > 0 {
				fmt.Fprintln(c.out, "\nSources:")
				for i, s := range f.Sources {
					title := s.Title
					if title == "" {
						title = s.DocumentID
					}
					fmt.Fprintf(c.out, "  [%d] %s  %s\n", i+1, title, s.Link)
				}
			}
			return nil
		case gateway.MsgError:
			if !c.json {
				w.Flush()
			}
			return &replyError{code: f.Code, message: f.Message}
		}
	}
}
