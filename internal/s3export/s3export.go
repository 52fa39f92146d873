// Package s3export puts local files in S3 for what runs outside twin: a
// dataset directory (train.jsonl, test.jsonl) for a SageMaker training
// job or `twin dataset build --out s3://...`, and the training program
// packed as the tar.gz the training container unpacks.
package s3export

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/twin-llm/twin/internal/awsclient"
)

// Putter stores one object: *s3.Client is one.
type Putter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// ErrURI is a location that is not an s3://bucket[/prefix] URI.
var ErrURI = errors.New("not an s3://bucket/prefix URI")

// ErrEmpty is a directory with no file to upload.
var ErrEmpty = errors.New("no file to upload")

// ParseURI splits s3://bucket/prefix into the bucket and the key prefix
// (without slashes at its ends; empty for the bucket's root).
func ParseURI(uri string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrURI, uri)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	// A bucket's name is 3 to 63 lower-case letters, digits, '.' and '-'.
	if len(bucket) < 3 || len(bucket) > 63 || strings.Trim(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return "", "", fmt.Errorf("%w: %q has no valid bucket name", ErrURI, uri)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// UploadDir puts every regular file under dir in S3 under uri
// (s3://bucket/prefix), keyed by its path below dir: dir/train.jsonl
// becomes s3://bucket/prefix/train.jsonl. Objects already there are
// replaced, so an upload that failed half-way is retried by uploading
// again.
func UploadDir(ctx context.Context, client Putter, dir, uri string) error {
	bucket, prefix, err := ParseURI(uri)
	if err != nil {
		return err
	}
	written := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := path.Join(prefix, filepath.ToSlash(rel))
		if err := putFile(ctx, client, bucket, key, p, contentType(p)); err != nil {
			return err
		}
		written++
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", dir, uri, err)
	}
	if written == 0 {
		return fmt.Errorf("upload %s to %s: %w", dir, uri, ErrEmpty)
	}
	return nil
}

// UploadTarGz packs the regular files under dir (without __pycache__) as
// a gzipped tar, paths relative to dir, and puts it at uri, the object's
// full s3:// URI: what a SageMaker framework container takes as its
// sagemaker_submit_directory.
func UploadTarGz(ctx context.Context, client Putter, dir, uri string) error {
	bucket, key, err := ParseURI(uri)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: %q names no object", ErrURI, uri)
	}
	tmp, err := os.CreateTemp("", "twin-source-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := writeTarGz(tmp, dir)
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	if n == 0 {
		return fmt.Errorf("pack %s: %w", dir, ErrEmpty)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := putFile(ctx, client, bucket, key, tmp.Name(), "application/gzip"); err != nil {
		return fmt.Errorf("upload %s to %s: %w", dir, uri, err)
	}
	return nil
}

// writeTarGz writes dir's files to w and returns how many.
func writeTarGz(w io.Writer, dir string) (int, error) {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		// A fixed time and owner: the same files give the same archive.
		if err := tw.WriteHeader(&tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    int64(info.Mode().Perm()),
			Size:    info.Size(),
			ModTime: time.Unix(0, 0),
			Format:  tar.FormatPAX,
		}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := tw.Close(); err != nil {
		return n, err
	}
	return n, gz.Close()
}

// putFile puts the file at p as bucket/key. The file, being seekable,
// lets the SDK sign and checksum the body without holding it in memory.
func putFile(ctx context.Context, client Putter, bucket, key, p, ctype string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(info.Size()),
		ContentType:   aws.String(ctype),
	}); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

func contentType(p string) string {
	switch filepath.Ext(p) {
	case ".jsonl":
		return "application/jsonl"
	case ".json":
		return "application/json"
	case ".gz":
		return "application/gzip"
	case ".txt", ".md":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Config is how to reach S3.
type Config struct {
	// Region is the buckets' region; empty: the AWS configuration's.
	Region string
	// AWS is the SDK configuration; nil: the default chain (environment,
	// shared files, SSO, IMDS or the task role).
	AWS *aws.Config
	// BaseEndpoint replaces S3's URL: an S3-compatible store (MinIO, a
	// test server).
	BaseEndpoint string
	// PathStyle addresses buckets in the path (host/bucket/key) rather
	// than the host name, as most S3-compatible stores need.
	PathStyle bool
}

// NewClient returns the S3 client of c. It fails only when c.AWS is nil
// and the default AWS configuration cannot be loaded.
func NewClient(c Config) (*s3.Client, error) {
	awsCfg, err := awsclient.Load(c.Region, c.AWS)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Region != "" {
			o.Region = c.Region
		}
		if c.BaseEndpoint != "" {
			o.BaseEndpoint = aws.String(c.BaseEndpoint)
		}
		o.UsePathStyle = c.PathStyle
	}), nil
}
