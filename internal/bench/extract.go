package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/twin-llm/twin/consumers/crawler/extract"
)

// ExtractConfig is a run of the article crawler's extraction over pages on
// disk, without fetching or publishing anything.
type ExtractConfig struct {
	// Paths are HTML files (.html, .htm, .xhtml, each maybe .gz) or
	// directories, read recursively for such files.
	Paths []string
	// Workers extract at once; 0 means one per core.
	Workers int
	// Rounds is how many times every page is extracted; 0 means 1.
	Rounds int
	// Progress, when set, is told how many extractions are done of all:
	// first with none done, once the pages are read, then after each. Its
	// calls never overlap.
	Progress func(done, total int)
}

// ExtractResult is what ExtractConfig measured.
type ExtractResult struct {
	Pages     int   `json:"pages"`
	Bytes     int64 `json:"bytes"`
	Workers   int   `json:"workers"`
	Rounds    int   `json:"rounds"`
	NoContent int   `json:"no_content"` // pages with no main text (extract.ErrNoContent)
	Failed    int   `json:"failed"`     // pages that failed otherwise

	Seconds        float64 `json:"seconds"`
	PagesPerSecond float64 `json:"pages_per_second"`
	MBPerSecond    float64 `json:"mb_per_second"`
	// CPUMsPerPage is the process's CPU time (user and system, garbage
	// collection included) per extraction: on a shared machine the wall
	// time measures the neighbours too, the CPU time much less.
	CPUMsPerPage float64 `json:"cpu_ms_per_page"`
	// PagesPerSecondAt2Cores is what two idle cores give at that CPU cost.
	PagesPerSecondAt2Cores float64 `json:"pages_per_second_at_2_cores"`
	P50Ms                  float64 `json:"p50_ms"`
	P99Ms                  float64 `json:"p99_ms"`
	SlowestMs              float64 `json:"slowest_ms"`
	Slowest                string  `json:"slowest"`
}

// page is one page read from disk.
type page struct {
	path string
	html []byte
}

// Extract reads the pages under cfg.Paths, then extracts each of them
// cfg.Rounds times on cfg.Workers goroutines, and measures the rate, the
// CPU cost and the time of each page. Reading is not timed.
func Extract(ctx context.Context, cfg ExtractConfig) (ExtractResult, error) {
	pages, err := readPages(cfg.Paths)
	if err != nil {
		return ExtractResult{}, err
	}
	if len(pages) == 0 {
		return ExtractResult{}, fmt.Errorf("no HTML pages (.html, .htm, .xhtml, maybe .gz) under %s", strings.Join(cfg.Paths, ", "))
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rounds := max(cfg.Rounds, 1)
	res := ExtractResult{Pages: len(pages), Workers: workers, Rounds: rounds}
	for _, p := range pages {
		res.Bytes += int64(len(p.html))
	}

	total := len(pages) * rounds
	times := make([]time.Duration, total)
	errs := make([]error, total)
	next := make(chan int)
	var done sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	if cfg.Progress != nil {
		cfg.Progress(0, total)
	}
	cpu0, start := processCPU(), time.Now()
	for range workers {
		done.Go(func() {
			for i := range next {
				p := pages[i%len(pages)]
				t := time.Now()
				_, errs[i] = extract.Extract(ctx, p.html, extract.Options{})
				times[i] = time.Since(t)
				if cfg.Progress != nil {
					mu.Lock()
					finished++
					cfg.Progress(finished, total)
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range total {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	done.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	if err := ctx.Err(); err != nil {
		return ExtractResult{}, err
	}

	var slowest time.Duration
	for i, d := range times {
		if d > slowest {
			slowest, res.Slowest = d, pages[i%len(pages)].path
		}
	}
	res.SlowestMs = float64(slowest) / float64(time.Millisecond)
	// Extraction is deterministic: the first round tells each page's fate.
	for _, err := range errs[:len(pages)] {
		switch {
		case err == nil:
		case errors.Is(err, extract.ErrNoContent):
			res.NoContent++
		default:
			res.Failed++
		}
	}
	res.Seconds = elapsed.Seconds()
	res.PagesPerSecond = float64(total) / res.Seconds
	res.MBPerSecond = float64(res.Bytes) * float64(rounds) / 1e6 / res.Seconds
	res.CPUMsPerPage = float64(cpu) / float64(time.Millisecond) / float64(total)
	if res.CPUMsPerPage > 0 {
		res.PagesPerSecondAt2Cores = 2000 / res.CPUMsPerPage
	}
	res.P50Ms = float64(Percentile(times, 0.5)) / float64(time.Millisecond)
	res.P99Ms = float64(Percentile(times, 0.99)) / float64(time.Millisecond)
	return res, nil
}

// readPages reads the HTML files named by paths, and those under the
// directories among them, in a stable order.
func readPages(paths []string) ([]page, error) {
	var pages []page
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !isHTMLName(path) && path != root {
				return nil
			}
			b, err := readMaybeGzip(path)
			if err != nil {
				return err
			}
			pages = append(pages, page{path: path, html: b})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return pages, nil
}

func isHTMLName(path string) bool {
	name := strings.TrimSuffix(strings.ToLower(path), ".gz")
	for _, ext := range []string{".html", ".htm", ".xhtml"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// readMaybeGzip reads a file, decompressing it when it is gzip.
func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Print writes the result for a reader.
func (r ExtractResult) Print(w io.Writer) {
	fmt.Fprintf(w, `pages                 %d (%.1f MB), %d round(s), %d worker(s)
no main content       %d
failed                %d
rate                  %.1f pages/s  (%.2f MB/s, wall clock)
CPU                   %.2f ms/page  (%.0f pages/s at 2 idle cores)
time per page         p50 %.1f ms  p99 %.1f ms  slowest %.0f ms (%s)
`, r.Pages, float64(r.Bytes)/1e6, r.Rounds, r.Workers, r.NoContent, r.Failed,
		r.PagesPerSecond, r.MBPerSecond, r.CPUMsPerPage, r.PagesPerSecondAt2Cores, r.P50Ms, r.P99Ms, r.SlowestMs, r.Slowest)
}
