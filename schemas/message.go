package schemas

// Message is a body that travels on a twin stream, or a part of one with a
// schema of its own (Document, inside CDCEvent). Schema names the JSON
// Schema the body must satisfy, as "<type>/v<N>"; producers put it in the
// HeaderSchema header and Decode validates against it.
type Message interface {
	Schema() string
}

// messages returns one zero value of every message type, the list Names and
// the schema registry are built from. A new message type is added here, with
// its schema file beside it.
func messages() []Message {
	return []Message{
		CrawlRequest{},
		CrawledDocument{},
		CDCEvent{},
		Document{},
		EmbedJob{},
		IndexEvent{},
		ChatRequest{},
		ReplyToken{},
		ReplyDone{},
		Feedback{},
		Judgment{},
		Trace{},
		TrainingTrigger{},
		TrainingStatus{},
		ModelRegistered{},
		DeadLetter{},
	}
}
