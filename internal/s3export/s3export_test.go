package s3export

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// newS3 serves an in-process S3-compatible store with the bucket
// twin-training on loopback and returns the real client pointed at it.
func newS3(t *testing.T) *s3.Client {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("twin-training"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	client, err := NewClient(Config{
		Region:       "eu-west-1",
		BaseEndpoint: srv.URL,
		PathStyle:    true,
		AWS: &aws.Config{
			Region:      "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func getObject(t *testing.T, client *s3.Client, key string) (string, string) {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("twin-training"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), aws.ToString(out.ContentType)
}

func TestUploadDirPutsEveryFileUnderThePrefix(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"train.jsonl":          `{"instruction":"What is twin?","output":"An LLM twin."}` + "\n",
		"test.jsonl":           `{"instruction":"Who wrote it?","output":"The author."}` + "\n",
		"lineage/dataset.json": `{"documents":["d1"]}`,
	}
	client := newS3(t)
	for _, tc := range []struct{ uri, prefix string }{
		{"s3://twin-training/datasets/sft-0001", "datasets/sft-0001/"},
		{"s3://twin-training/datasets/sft-0002/", "datasets/sft-0002/"},
		{"s3://twin-training", ""},
	} {
		if err := UploadDir(context.Background(), client, writeFiles(t, files), tc.uri); err != nil {
			t.Fatalf("UploadDir %s: %v", tc.uri, err)
		}
		for name, want := range files {
			got, ctype := getObject(t, client, tc.prefix+name)
			if got != want {
				t.Errorf("%s%s = %q, want %q", tc.prefix, name, got, want)
			}
			if filepath.Ext(name) == ".jsonl" && ctype != "application/jsonl" {
				t.Errorf("%s content type %q", name, ctype)
			}
		}
	}
	list, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("twin-training"), Prefix: aws.String("datasets/sft-0001/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	slices.Sort(keys)
	if want := []string{"datasets/sft-0001/lineage/dataset.json", "datasets/sft-0001/test.jsonl", "datasets/sft-0001/train.jsonl"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

func TestUploadDirReplacesWhatIsThere(t *testing.T) {
	t.Parallel()
	client := newS3(t)
	uri := "s3://twin-training/datasets/dpo"
	for _, body := range []string{"first\n", "second\n"} {
		if err := UploadDir(context.Background(), client, writeFiles(t, map[string]string{"train.jsonl": body}), uri); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := getObject(t, client, "datasets/dpo/train.jsonl"); got != "second\n" {
		t.Errorf("train.jsonl = %q after the second upload", got)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	client := newS3(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dir  string
		uri  string
		want error
	}{
		{"an empty directory", t.TempDir(), "s3://twin-training/x", ErrEmpty},
		{"not an s3 URI", writeFiles(t, map[string]string{"a": "b"}), "/tmp/x", ErrURI},
		{"no such directory", filepath.Join(t.TempDir(), "missing"), "s3://twin-training/x", os.ErrNotExist},
	} {
		if err := UploadDir(ctx, client, tc.dir, tc.uri); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
	// A bucket the store does not have is the store's error, passed on.
	if err := UploadDir(ctx, client, writeFiles(t, map[string]string{"a": "b"}), "s3://no-such-bucket/x"); err == nil {
		t.Error("an upload to a missing bucket succeeded")
	}
}

func TestUploadTarGzPacksTheProgram(t *testing.T) {
	t.Parallel()
	client := newS3(t)
	dir := writeFiles(t, map[string]string{
		"train.py":                      "print('train')\n",
		"requirements.txt":              "trl\npeft\n",
		"__pycache__/train.cpython.pyc": "junk",
	})
	if err := UploadTarGz(context.Background(), client, dir, "s3://twin-training/source/sourcedir.tar.gz"); err != nil {
		t.Fatalf("UploadTarGz: %v", err)
	}
	body, ctype := getObject(t, client, "source/sourcedir.tar.gz")
	if ctype != "application/gzip" {
		t.Errorf("content type %q", ctype)
	}
	gz, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	want := map[string]string{"train.py": "print('train')\n", "requirements.txt": "trl\npeft\n"}
	if len(got) != len(want) || got["train.py"] != want["train.py"] || got["requirements.txt"] != want["requirements.txt"] {
		t.Errorf("archive holds %q, want %q", got, want)
	}
	if err := UploadTarGz(context.Background(), client, dir, "s3://twin-training"); !errors.Is(err, ErrURI) {
		t.Errorf("UploadTarGz to a bucket with no key: %v; want ErrURI", err)
	}
}

func TestParseURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		uri, bucket, prefix string
		ok                  bool
	}{
		{"s3://twin-training/datasets/a", "twin-training", "datasets/a", true},
		{"s3://twin-training/datasets/a/", "twin-training", "datasets/a", true},
		{"s3://twin-training", "twin-training", "", true},
		{"s3://twin.training-1/", "twin.training-1", "", true},
		{"s3://Twin/x", "", "", false},
		{"s3://ab/x", "", "", false},
		{"s3:///x", "", "", false},
		{"https://twin-training/x", "", "", false},
		{"", "", "", false},
	} {
		bucket, prefix, err := ParseURI(tc.uri)
		if (err == nil) != tc.ok || bucket != tc.bucket || prefix != tc.prefix {
			t.Errorf("ParseURI(%q) = %q, %q, %v", tc.uri, bucket, prefix, err)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"s3://twin-training/datasets/a", "s3://b", "s3://", "s3://abc//x//", "file:///tmp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		bucket, prefix, err := ParseURI(uri)
		if err != nil {
			if !errors.Is(err, ErrURI) {
				t.Fatalf("ParseURI(%q): %v is not ErrURI", uri, err)
			}
			return
		}
		if len(bucket) < 3 || len(bucket) > 63 {
			t.Fatalf("ParseURI(%q): bucket %q", uri, bucket)
		}
		if len(prefix) > 0 && (prefix[0] == '/' || prefix[len(prefix)-1] == '/') {
			t.Fatalf("ParseURI(%q): prefix %q has a slash at an end", uri, prefix)
		}
	})
}
