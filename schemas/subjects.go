package schemas

// Subjects of the twin streams. A subject built from a value (a document kind,
// a request id, a consumer name) takes that value as one subject token, so the
// value must satisfy ValidToken; the functions below do not check it, the
// code that accepts the value from outside does.
const (
	// SubjectCrawlRequests carries CrawlRequest: a URL to crawl.
	SubjectCrawlRequests = "twin.crawl.requests"

	// SubjectEmbedJobs carries EmbedJob: one document's chunks to embed.
	SubjectEmbedJobs = "twin.embed.jobs"

	// SubjectIndexEvents carries IndexEvent: a document became searchable or
	// was removed from the index.
	SubjectIndexEvents = "twin.index.events"

	// SubjectChatRequests carries ChatRequest: a question for the twin.
	SubjectChatRequests = "twin.chat.requests"

	// SubjectMonitorTraces carries Trace: one per answered chat request.
	SubjectMonitorTraces = "twin.monitor.traces"

	// SubjectTrainingTriggers carries TrainingTrigger: a decision to retrain.
	SubjectTrainingTriggers = "twin.training.triggers"

	// SubjectTrainingStatus carries TrainingStatus: progress of a training job.
	SubjectTrainingStatus = "twin.training.status"

	// SubjectTrainingModels carries ModelRegistered: a new model version.
	SubjectTrainingModels = "twin.training.models"
)

// Wildcards that stream definitions and consumers filter on: each covers the
// subjects one of the functions below builds.
const (
	SubjectDocsCrawledAll = "twin.docs.crawled.>" // DocsCrawled(kind)
	SubjectCDCAll         = "twin.cdc.>"          // CDC(collection, op)
	SubjectChatRepliesAll = "twin.chat.replies.>" // ChatReplies(requestID)
	SubjectFeedbackAll    = "twin.feedback.>"     // FeedbackSubject(kind)
	SubjectTrainingAll    = "twin.training.>"     // triggers, status and models
	SubjectDLQAll         = "twin.dlq.>"          // DLQ(consumer)
)

// Kinds of crawled documents: the last token of DocsCrawled and the kind field
// of CrawledDocument.
const (
	KindArticle    = "article"
	KindPost       = "post"
	KindRepository = "repository"
)

// DocsCrawled returns the subject of crawled documents of one kind
// ("twin.docs.crawled.article"), which carries CrawledDocument.
func DocsCrawled(kind string) string {
	return "twin.docs.crawled." + kind
}

// CDC returns the subject of one kind of change to one warehouse collection
// ("twin.cdc.documents.update"), which carries CDCEvent. Op is one of the
// OpInsert, OpUpdate, OpReplace and OpDelete constants.
func CDC(collection, op string) string {
	return "twin.cdc." + collection + "." + op
}

// ChatReplies returns the subject on which the answer to one chat request is
// streamed ("twin.chat.replies.<id>"): ReplyToken messages, then one
// ReplyDone. One subject per request lets a gateway replica replay a
// request's tokens from the stream when a client resumes.
func ChatReplies(requestID string) string {
	return "twin.chat.replies." + requestID
}

// Kinds of feedback, the last token of FeedbackSubject.
const (
	FeedbackRating    = "rating"    // Feedback: a rating of an answer
	FeedbackRelevance = "relevance" // Judgment: a source judged relevant or not to a query
)

// FeedbackSubject returns the subject of one kind of user feedback
// ("twin.feedback.<kind>", for example "twin.feedback.rating"), which carries
// the Feedback message. It is not called Feedback like the other subject
// functions because that is the message type's name.
func FeedbackSubject(kind string) string {
	return "twin.feedback." + kind
}

// DLQ returns the dead-letter subject of one durable consumer
// ("twin.dlq.<consumer>"), which carries DeadLetter.
func DLQ(consumer string) string {
	return "twin.dlq." + consumer
}

// maxTokenLen bounds a subject token. NATS allows longer subjects, but a
// token this long is already a bug or an attack, and the bound keeps every
// subject well under the server's limits.
const maxTokenLen = 128

// ValidToken reports whether s can be used as one subject token: non-empty,
// at most 128 bytes, and only ASCII letters, digits, '_' and '-'. Anything
// else could split the subject ('.'), turn it into a wildcard ('*', '>'),
// or be refused by the server (spaces, control characters). Request ids and
// consumer names become tokens, so whatever accepts them from outside checks
// them with ValidToken.
func ValidToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
