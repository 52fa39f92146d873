// Package ops reads what an operator watches, from NATS alone so that any
// process can answer it: every stream's size and consumer's lag, how fresh
// the index is, and the training jobs. The gateway serves it as
// GET /v1/status; `twin status` and the page's operations view show it.
package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/twin-llm/twin/schemas"
	"github.com/twin-llm/twin/streams"
)

// Status is the operator's view of a running twin.
type Status struct {
	streams.Status
	// Freshness is nil until a document has been indexed.
	Freshness *Freshness `json:"freshness,omitempty"`
	// Training holds the newest jobs, newest first.
	Training []TrainingJob `json:"training"`
}

// Freshness is how long recent documents took from their warehouse change
// to being searchable.
type Freshness struct {
	Samples     int       `json:"samples"`
	P50Seconds  float64   `json:"p50_s"`
	P99Seconds  float64   `json:"p99_s"`
	MaxSeconds  float64   `json:"max_s"`
	LastIndexed time.Time `json:"last_indexed_at"`
}

// TrainingJob is a trigger with the last state of its job.
type TrainingJob struct {
	Trigger schemas.TrainingTrigger `json:"trigger"`
	Status  schemas.TrainingStatus  `json:"status,omitzero"`
}

// Bounds of what Read looks at: the status is asked for every few seconds
// by the page and `twin status --watch`, so it reads a window, not history.
const (
	FreshnessWindow = 256 // index events
	TrainingShown   = 10  // jobs
)

// Read gathers the status. A missing INDEX or TRAINING stream (an
// external NATS whose topology is not applied yet) leaves its part empty.
func Read(ctx context.Context, js jetstream.JetStream) (Status, error) {
	st, err := streams.ReadStatus(ctx, js)
	if err != nil {
		return Status{}, err
	}
	out := Status{Status: st, Training: []TrainingJob{}}
	if out.Freshness, err = RecentFreshness(ctx, js, FreshnessWindow); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return Status{}, err
	}
	jobs, err := TrainingJobs(ctx, js)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return Status{}, err
	}
	if len(jobs) > TrainingShown {
		jobs = jobs[:TrainingShown]
	}
	out.Training = append(out.Training, jobs...)
	return out, nil
}

// RecentFreshness measures the last n upserts of the INDEX stream, or
// returns nil when there is none.
func RecentFreshness(ctx context.Context, js jetstream.JetStream, n int) (*Freshness, error) {
	var lat []float64
	f := &Freshness{}
	err := readStream(ctx, js, streams.StreamIndex, []string{schemas.SubjectIndexEvents}, uint64(n), func(m jetstream.Msg) error {
		var ev schemas.IndexEvent
		if schemas.Decode(m.Data(), &ev) != nil || ev.Op == schemas.OpDelete || ev.OriginTime.IsZero() || ev.IndexedAt.IsZero() {
			return nil
		}
		lat = append(lat, max(ev.IndexedAt.Sub(ev.OriginTime).Seconds(), 0))
		if ev.IndexedAt.After(f.LastIndexed) {
			f.LastIndexed = ev.IndexedAt
		}
		return nil
	})
	if err != nil || len(lat) == 0 {
		return nil, err
	}
	slices.Sort(lat)
	f.Samples = len(lat)
	f.P50Seconds = quantile(lat, 0.50)
	f.P99Seconds = quantile(lat, 0.99)
	f.MaxSeconds = lat[len(lat)-1]
	return f, nil
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TrainingJobs lists every trigger with its job's last state, newest
// first.
func TrainingJobs(ctx context.Context, js jetstream.JetStream) ([]TrainingJob, error) {
	byID := map[string]*TrainingJob{}
	err := readStream(ctx, js, streams.StreamTraining, []string{schemas.SubjectTrainingTriggers, schemas.SubjectTrainingStatus}, 0, func(m jetstream.Msg) error {
		switch m.Subject() {
		case schemas.SubjectTrainingTriggers:
			var t schemas.TrainingTrigger
			if schemas.Decode(m.Data(), &t) != nil {
				return nil // the trainer dead-letters it; not a job
			}
			if _, ok := byID[t.ID]; !ok {
				byID[t.ID] = &TrainingJob{Trigger: t}
			}
		case schemas.SubjectTrainingStatus:
			var s schemas.TrainingStatus
			if schemas.Decode(m.Data(), &s) != nil {
				return nil
			}
			if j, ok := byID[s.TriggerID]; ok {
				j.Status = s
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	jobs := make([]TrainingJob, 0, len(byID))
	for _, j := range byID {
		jobs = append(jobs, *j)
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Trigger.CreatedAt.After(jobs[b].Trigger.CreatedAt) })
	return jobs, nil
}

// readStream reads the messages of stream on subjects, in order, as of
// now: all of them, or those among the last `last` of the stream.
func readStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string, last uint64, each func(m jetstream.Msg) error) error {
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects}
	if end := stream.CachedInfo().State.LastSeq; last > 0 && end > last {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = end - last + 1
	}
	return streams.ReadToEnd(ctx, stream, cfg, each)
}
