package qdrant_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/qdrant"
	"github.com/twin-llm/twin/internal/store/vectors/qdrant/qdranttest"
	"github.com/twin-llm/twin/internal/store/vectors/vectorstest"
)

// collectionFor names a collection after the test, so the stores of
// parallel (sub)tests never share one.
func collectionFor(t *testing.T) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
}

// open opens a store on srv, in the test's collection unless cfg names
// one, and closes it at the end of the test.
func open(t *testing.T, srv *qdranttest.Server, cfg qdrant.Config) *qdrant.Store {
	t.Helper()
	s, err := qdrant.Open(t.Context(), fakeConfig(t, srv, cfg))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fakeConfig(t *testing.T, srv *qdranttest.Server, cfg qdrant.Config) qdrant.Config {
	cfg.Host, cfg.Port = srv.Host(), srv.Port()
	if cfg.Collection == "" {
		cfg.Collection = collectionFor(t)
	}
	if cfg.Dim == 0 {
		cfg.Dim = 4
	}
	cfg.PoolSize = 1
	return cfg
}

// requests returns the recorded requests of one method, typed.
func requests[T proto.Message](srv *qdranttest.Server, method string) []T {
	var out []T
	for _, c := range srv.Calls(method) {
		if c.Err == nil {
			out = append(out, c.Request.(T))
		}
	}
	return out
}

// forCollection keeps the requests about one collection.
func forCollection[T interface{ GetCollectionName() string }](reqs []T, name string) []T {
	return slices.DeleteFunc(reqs, func(r T) bool { return r.GetCollectionName() != name })
}

func TestQdrantStoreOnFakeServer(t *testing.T) {
	srv := qdranttest.Start(t)
	vectorstest.Run(t, func(t *testing.T, dim int) vectors.Store {
		return open(t, srv, qdrant.Config{Dim: dim})
	})
}

// TestQdrantIntegration runs the suite on a real server, named by
// TWIN_TEST_QDRANT=host:port (the gRPC port), with TWIN_TEST_QDRANT_API_KEY
// and TWIN_TEST_QDRANT_TLS=1 when the server wants them. Every store gets
// its own collection, dropped at the end.
func TestQdrantIntegration(t *testing.T) {
	addr := os.Getenv("TWIN_TEST_QDRANT")
	if addr == "" {
		t.Skip("TWIN_TEST_QDRANT is not set: set it to a Qdrant gRPC address (host:6334) to run the suite against a real server")
	}
	host, port, err := qdrant.SplitAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	base := qdrant.Config{
		Host:   host,
		Port:   port,
		APIKey: os.Getenv("TWIN_TEST_QDRANT_API_KEY"),
		UseTLS: os.Getenv("TWIN_TEST_QDRANT_TLS") == "1",
	}
	run := fmt.Sprintf("twin_test_%d_", time.Now().UnixNano())
	vectorstest.Run(t, func(t *testing.T, dim int) vectors.Store {
		cfg := base
		cfg.Dim, cfg.Collection = dim, run+collectionFor(t)
		s, err := qdrant.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open on %s: %v", addr, err)
		}
		t.Cleanup(func() {
			s.Close()
			// The suite may have closed s: drop the collection through a
			// store of its own.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			admin, err := qdrant.Open(ctx, cfg)
			if err != nil {
				t.Errorf("reopen %s to drop it: %v", cfg.Collection, err)
				return
			}
			defer admin.Close()
			if err := admin.DropCollection(ctx); err != nil {
				t.Errorf("drop %s: %v", cfg.Collection, err)
			}
		})
		return s
	})
}

func TestOpenCreatesCollectionWithNamedVectorsAndKeywordIndexes(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{Dim: 8})
	name := s.Collection()

	create, indexes, ok := srv.Collection(name)
	if !ok {
		t.Fatalf("collection %q was not created", name)
	}
	dense := create.GetVectorsConfig().GetParamsMap().GetMap()
	if len(dense) != 1 || dense["dense"].GetSize() != 8 || dense["dense"].GetDistance() != qc.Distance_Cosine {
		t.Errorf("dense vectors config = %v, want one named vector \"dense\" of size 8, cosine", dense)
	}
	sparse := create.GetSparseVectorsConfig().GetMap()
	if len(sparse) != 1 || sparse["bm25"] == nil || sparse["bm25"].Modifier == nil || sparse["bm25"].GetModifier() != qc.Modifier_Idf {
		t.Errorf("sparse vectors config = %v, want one named vector \"bm25\" with the IDF modifier", sparse)
	}
	want := map[string]qc.FieldType{}
	for _, f := range []string{"document_id", "author_id", "category", "platform"} {
		want[f] = qc.FieldType_FieldTypeKeyword
	}
	if !reflect.DeepEqual(indexes, want) {
		t.Errorf("payload indexes = %v, want keyword indexes %v", indexes, want)
	}
	for _, r := range forCollection(requests[*qc.CreateFieldIndexCollection](srv, qc.Points_CreateFieldIndex_FullMethodName), name) {
		if !r.GetWait() {
			t.Errorf("payload index on %q created without wait", r.GetFieldName())
		}
	}
	if n := len(requests[*qc.HealthCheckRequest](srv, qc.Qdrant_HealthCheck_FullMethodName)); n == 0 {
		t.Error("Open did not check the server's health")
	}
	if s.ServerVersion() != qdranttest.Version {
		t.Errorf("ServerVersion() = %q, want %q", s.ServerVersion(), qdranttest.Version)
	}
}

func TestOpenReusesExistingCollection(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	first := open(t, srv, qdrant.Config{})
	name := first.Collection()
	p := vectors.Point{ID: vectorstest.ID(1), Dense: []float32{1, 0, 0, 0}, Payload: vectors.Payload{DocumentID: "doc-1"}}
	if err := first.Upsert(t.Context(), []vectors.Point{p}); err != nil {
		t.Fatal(err)
	}
	first.Close()

	second := open(t, srv, qdrant.Config{Collection: name})
	if n := len(forCollection(requests[*qc.CreateCollection](srv, qc.Collections_Create_FullMethodName), name)); n != 1 {
		t.Errorf("collection created %d times, want once", n)
	}
	if n := len(forCollection(requests[*qc.CreateFieldIndexCollection](srv, qc.Points_CreateFieldIndex_FullMethodName), name)); n != 4 {
		t.Errorf("%d payload indexes created over two opens, want 4 (none the second time)", n)
	}
	if n, err := second.Count(t.Context(), vectors.Filter{}); err != nil || n != 1 {
		t.Errorf("Count after reopening = %d, %v; want the 1 point written before", n, err)
	}
}

func TestOpenRejectsAnIncompatibleCollection(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	existing := open(t, srv, qdrant.Config{Dim: 4}).Collection()

	// A collection made by someone else, with another dense vector name.
	client := rawClient(t, srv)
	foreign := collectionFor(t) + "_foreign"
	err := client.CreateCollection(t.Context(), &qc.CreateCollection{
		CollectionName: foreign,
		VectorsConfig:  qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"text": {Size: 4, Distance: qc.Distance_Cosine}}),
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		collection string
		dim        int
		want       error
	}{
		{"other dense size", existing, 8, vectors.ErrDimension},
		{"other vector names", foreign, 4, qdrant.ErrCollectionSchema},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeConfig(t, srv, qdrant.Config{Collection: tc.collection, Dim: tc.dim})
			s, err := qdrant.Open(t.Context(), cfg)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open(%s, dim %d) = %v, want %v", tc.collection, tc.dim, err, tc.want)
			}
		})
	}
}

func TestOpenAddsMissingPayloadIndexes(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	name := collectionFor(t)
	err := rawClient(t, srv).CreateCollection(t.Context(), &qc.CreateCollection{
		CollectionName:      name,
		VectorsConfig:       qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"dense": {Size: 4, Distance: qc.Distance_Cosine}}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"bm25": {Modifier: qc.Modifier_Idf.Enum()}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, srv, qdrant.Config{Collection: name})
	if _, indexes, _ := srv.Collection(name); len(indexes) != 4 {
		t.Errorf("indexes after Open on a collection without any: %v, want 4", indexes)
	}
	// And filtered calls work, which the fake refuses without an index.
	if _, err := s.Count(t.Context(), vectors.Filter{AuthorIDs: []string{"a"}}); err != nil {
		t.Errorf("filtered Count: %v", err)
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	tests := []struct {
		name string
		srv  []qdranttest.Option
		cfg  func(*qdrant.Config)
		want func(error) bool
	}{
		{
			name: "server too old",
			srv:  []qdranttest.Option{qdranttest.WithVersion("1.15.4")},
			want: func(err error) bool { return errors.Is(err, qdrant.ErrServerVersion) },
		},
		{
			name: "nothing listening",
			cfg:  func(c *qdrant.Config) { c.Port = closedPort },
			want: func(err error) bool { return status.Code(err) == codes.Unavailable },
		},
		{
			name: "no API key",
			srv:  []qdranttest.Option{qdranttest.WithAPIKey("secret")},
			want: func(err error) bool { return status.Code(err) == codes.Unauthenticated },
		},
		{
			name: "wrong API key",
			srv:  []qdranttest.Option{qdranttest.WithAPIKey("secret")},
			cfg:  func(c *qdrant.Config) { c.APIKey = "guess" },
			want: func(err error) bool { return status.Code(err) == codes.Unauthenticated },
		},
		{
			name: "zero dimension",
			cfg:  func(c *qdrant.Config) { c.Dim = -1 },
			want: func(err error) bool { return err != nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := qdranttest.Start(t, tc.srv...)
			cfg := fakeConfig(t, srv, qdrant.Config{})
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := qdrant.Open(ctx, cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !tc.want(err) {
				t.Errorf("Open: unexpected error %v", err)
			}
		})
	}
}

func TestAPIKeyIsSentOnEveryCall(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t, qdranttest.WithAPIKey("secret"))
	s := open(t, srv, qdrant.Config{APIKey: "secret"})
	ctx := t.Context()
	p := vectors.Point{ID: vectorstest.ID(1), Dense: []float32{1, 0, 0, 0}, Payload: vectors.Payload{DocumentID: "doc-1"}}
	if err := s.Upsert(ctx, []vectors.Point{p}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Search(ctx, vectors.Query{Dense: p.Dense}); err != nil {
		t.Fatal(err)
	}
	for _, c := range srv.Calls() {
		if c.APIKey != "secret" {
			t.Errorf("%s sent api-key %q", c.Method, c.APIKey)
		}
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, roots := selfSigned(t)
	srv := qdranttest.Start(t, qdranttest.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}))

	s := open(t, srv, qdrant.Config{UseTLS: true, TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}})
	if _, err := s.Count(t.Context(), vectors.Filter{}); err != nil {
		t.Errorf("Count over TLS: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for name, cfg := range map[string]qdrant.Config{
		"plaintext":      {},
		"untrusted cert": {UseTLS: true, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}},
	} {
		if s, err := qdrant.Open(ctx, fakeConfig(t, srv, cfg)); err == nil {
			s.Close()
			t.Errorf("Open (%s) on a TLS server succeeded", name)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "qdranttest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

func TestUpsertWaitsAndMapsPoints(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{BatchSize: 2})
	points := make([]vectors.Point, 5)
	for i := range points {
		points[i] = vectors.Point{
			ID:    vectorstest.ID(i),
			Dense: []float32{1, float32(i), 0, 0},
			Payload: vectors.Payload{
				DocumentID: "doc-1", AuthorID: "author-1", Author: "Ada", Category: "posts", Platform: "linkedin",
				Link: "https://example.com", Title: "T", ChunkIndex: i, Text: "text",
				Extra: map[string]any{"chunk_size": 128, "model": "m"},
			},
		}
		if i%2 == 0 {
			points[i].Sparse = vectors.Sparse{Indices: []uint32{3, 9}, Values: []float32{1, 0.5}}
		}
	}
	if err := s.Upsert(t.Context(), points); err != nil {
		t.Fatal(err)
	}

	upserts := forCollection(requests[*qc.UpsertPoints](srv, qc.Points_Upsert_FullMethodName), s.Collection())
	if len(upserts) != 3 {
		t.Fatalf("%d Upsert requests for 5 points in batches of 2, want 3", len(upserts))
	}
	var sent []*qc.PointStruct
	for _, u := range upserts {
		if !u.GetWait() {
			t.Error("Upsert without wait=true: it could return before the points are searchable")
		}
		sent = append(sent, u.GetPoints()...)
	}
	for i, ps := range sent {
		if got := ps.GetId().GetUuid(); got != points[i].ID {
			t.Errorf("point %d sent with id %q, want the UUID %q", i, got, points[i].ID)
		}
		named := ps.GetVectors().GetVectors().GetVectors()
		if got := named["dense"].GetDense().GetData(); !slices.Equal(got, points[i].Dense) {
			t.Errorf("point %d dense = %v, want %v", i, got, points[i].Dense)
		}
		sp, hasSparse := named["bm25"]
		if hasSparse != (i%2 == 0) {
			t.Errorf("point %d: bm25 vector present = %v, want %v (absent when the chunk has no terms)", i, hasSparse, i%2 == 0)
		}
		if hasSparse && !slices.Equal(sp.GetSparse().GetIndices(), []uint32{3, 9}) {
			t.Errorf("point %d sparse indices = %v", i, sp.GetSparse().GetIndices())
		}
		pl := ps.GetPayload()
		for key, want := range map[string]string{
			"document_id": "doc-1", "author_id": "author-1", "author": "Ada", "category": "posts",
			"platform": "linkedin", "link": "https://example.com", "title": "T", "text": "text",
		} {
			if got := pl[key].GetStringValue(); got != want {
				t.Errorf("point %d payload %s = %q, want %q", i, key, got, want)
			}
		}
		if got := pl["chunk_index"].GetIntegerValue(); got != int64(i) {
			t.Errorf("point %d payload chunk_index = %d, want %d", i, got, i)
		}
		extra := pl["extra"].GetStructValue().GetFields()
		if extra["chunk_size"].GetIntegerValue() != 128 || extra["model"].GetStringValue() != "m" {
			t.Errorf("point %d payload extra = %v, want a nested object", i, extra)
		}
	}
}

func TestUpsertRejectsBadPointsBeforeWriting(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{})
	good := vectors.Point{ID: vectorstest.ID(1), Dense: []float32{1, 0, 0, 0}}
	tests := []struct {
		name string
		bad  vectors.Point
	}{
		{"id not a UUID", vectors.Point{ID: "chunk-1", Dense: []float32{1, 0, 0, 0}}},
		{"sparse lengths differ", vectors.Point{ID: vectorstest.ID(2), Dense: []float32{1, 0, 0, 0}, Sparse: vectors.Sparse{Indices: []uint32{1, 2}, Values: []float32{1}}}},
		{"extra not JSON", vectors.Point{ID: vectorstest.ID(3), Dense: []float32{1, 0, 0, 0}, Payload: vectors.Payload{Extra: map[string]any{"f": func() {}}}}},
	}
	for _, tc := range tests {
		if err := s.Upsert(t.Context(), []vectors.Point{good, tc.bad}); err == nil {
			t.Errorf("%s: Upsert succeeded", tc.name)
		}
	}
	if n := len(forCollection(requests[*qc.UpsertPoints](srv, qc.Points_Upsert_FullMethodName), s.Collection())); n != 0 {
		t.Errorf("%d Upsert requests sent for rejected batches, want none", n)
	}
}

func TestExtraRoundTripsAsJSON(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{})
	type params struct {
		Size    int     `json:"size"`
		Overlap float64 `json:"overlap"`
	}
	extra := map[string]any{
		"tags":    []string{"go", "rag"},
		"params":  params{Size: 256, Overlap: 0.5},
		"counts":  map[string]int{"a": 1},
		"nothing": nil,
		"big":     int64(1) << 40,
	}
	want := map[string]any{
		"tags":    []any{"go", "rag"},
		"params":  map[string]any{"size": 256.0, "overlap": 0.5},
		"counts":  map[string]any{"a": 1.0},
		"nothing": nil,
		"big":     float64(int64(1) << 40),
	}
	p := vectors.Point{ID: vectorstest.ID(1), Dense: []float32{1, 0, 0, 0}, Payload: vectors.Payload{DocumentID: "d", Extra: extra}}
	if err := s.Upsert(t.Context(), []vectors.Point{p}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(t.Context(), vectors.Query{Dense: p.Dense})
	if err != nil || len(hits) != 1 {
		t.Fatalf("Search = %v, %v", hits, err)
	}
	if !reflect.DeepEqual(hits[0].Payload.Extra, want) {
		t.Errorf("Extra read back as %#v, want what encoding/json gives: %#v", hits[0].Payload.Extra, want)
	}
}

func TestDeleteDocumentIsOneFilteredDelete(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{})
	ctx := t.Context()
	var points []vectors.Point
	for i := range 4 {
		points = append(points, vectors.Point{ID: vectorstest.ID(i), Dense: []float32{1, 0, 0, 0}, Payload: vectors.Payload{DocumentID: "doc-1"}})
	}
	if err := s.Upsert(ctx, points); err != nil {
		t.Fatal(err)
	}
	keep := []string{vectorstest.ID(1), vectorstest.ID(2)}
	n, err := s.DeleteDocument(ctx, "doc-1", keep)
	if err != nil || n != 2 {
		t.Fatalf("DeleteDocument = %d, %v; want 2, nil", n, err)
	}

	deletes := forCollection(requests[*qc.DeletePoints](srv, qc.Points_Delete_FullMethodName), s.Collection())
	if len(deletes) != 1 {
		t.Fatalf("%d Delete requests, want 1", len(deletes))
	}
	d := deletes[0]
	if !d.GetWait() {
		t.Error("Delete without wait=true")
	}
	f := d.GetPoints().GetFilter()
	if f == nil {
		t.Fatalf("Delete selects %v, want a filter", d.GetPoints())
	}
	if len(f.GetMust()) != 1 || f.GetMust()[0].GetField().GetKey() != "document_id" ||
		f.GetMust()[0].GetField().GetMatch().GetKeyword() != "doc-1" {
		t.Errorf("Delete must = %v, want document_id = doc-1", f.GetMust())
	}
	var kept []string
	if len(f.GetMustNot()) == 1 {
		for _, id := range f.GetMustNot()[0].GetHasId().GetHasId() {
			kept = append(kept, id.GetUuid())
		}
	}
	if !slices.Equal(kept, keep) {
		t.Errorf("Delete must_not has_id = %v, want %v", kept, keep)
	}
	for _, c := range forCollection(requests[*qc.CountPoints](srv, qc.Points_Count_FullMethodName), s.Collection()) {
		if !c.GetExact() {
			t.Error("Count without exact=true")
		}
	}

	// A document without points costs no delete.
	if n, err := s.DeleteDocument(ctx, "doc-404", nil); n != 0 || err != nil {
		t.Errorf("DeleteDocument(doc-404) = %d, %v", n, err)
	}
	if n := len(forCollection(requests[*qc.DeletePoints](srv, qc.Points_Delete_FullMethodName), s.Collection())); n != 1 {
		t.Errorf("a delete was sent for a document without points")
	}
}

func TestSearchUsesTheQueryAPI(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{})
	p := vectors.Point{
		ID: vectorstest.ID(1), Dense: []float32{1, 0, 0, 0}, Sparse: vectors.Sparse{Indices: []uint32{5}, Values: []float32{1}},
		Payload: vectors.Payload{DocumentID: "doc-1", AuthorID: "a1", Category: "posts", Platform: "x", Text: "hello"},
	}
	if err := s.Upsert(t.Context(), []vectors.Point{p}); err != nil {
		t.Fatal(err)
	}
	filter := vectors.Filter{AuthorIDs: []string{"a1", "a2"}, Categories: []string{"posts"}}
	dense, sparse := p.Dense, p.Sparse

	tests := []struct {
		name  string
		q     vectors.Query
		check func(t *testing.T, r *qc.QueryPoints)
	}{
		{
			name: "dense",
			q:    vectors.Query{Dense: dense, Filter: filter, Limit: 3},
			check: func(t *testing.T, r *qc.QueryPoints) {
				nearestOn(t, "query", r.GetQuery(), r.GetUsing(), "dense")
				if len(r.GetPrefetch()) != 0 || r.GetLimit() != 3 {
					t.Errorf("prefetch %d, limit %d; want none, 3", len(r.GetPrefetch()), r.GetLimit())
				}
				checkFilter(t, "query", r.GetFilter())
			},
		},
		{
			name: "sparse",
			q:    vectors.Query{Sparse: sparse, Filter: filter},
			check: func(t *testing.T, r *qc.QueryPoints) {
				nearestOn(t, "query", r.GetQuery(), r.GetUsing(), "bm25")
				if r.GetLimit() != 10 {
					t.Errorf("limit %d, want the default 10", r.GetLimit())
				}
				checkFilter(t, "query", r.GetFilter())
			},
		},
		{
			name: "hybrid",
			q:    vectors.Query{Dense: dense, Sparse: sparse, Filter: filter, Limit: 4, Prefetch: 7},
			check: func(t *testing.T, r *qc.QueryPoints) {
				if k := r.GetQuery().GetRrf().GetK(); k != qdrant.RRFK {
					t.Errorf("fusion query %v, want rrf with k=%d", r.GetQuery(), qdrant.RRFK)
				}
				pre := r.GetPrefetch()
				if len(pre) != 2 {
					t.Fatalf("%d prefetches, want 2", len(pre))
				}
				nearestOn(t, "prefetch 0", pre[0].GetQuery(), pre[0].GetUsing(), "dense")
				nearestOn(t, "prefetch 1", pre[1].GetQuery(), pre[1].GetUsing(), "bm25")
				for i, p := range pre {
					if p.GetLimit() != 7 {
						t.Errorf("prefetch %d limit %d, want 7", i, p.GetLimit())
					}
					checkFilter(t, fmt.Sprint("prefetch ", i), p.GetFilter())
				}
				if r.GetLimit() != 4 {
					t.Errorf("limit %d, want 4", r.GetLimit())
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Calls(qc.Points_Query_FullMethodName))
			hits, err := s.Search(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != 1 || hits[0].ID != p.ID || hits[0].Payload.Text != "hello" {
				t.Errorf("hits = %+v, want %s with its payload", hits, p.ID)
			}
			calls := srv.Calls(qc.Points_Query_FullMethodName)
			if len(calls) != before+1 {
				t.Fatalf("%d Query calls, want 1", len(calls)-before)
			}
			r := calls[before].Request.(*qc.QueryPoints)
			if !r.GetWithPayload().GetEnable() || r.GetWithVectors().GetEnable() {
				t.Errorf("with_payload %v, with_vectors %v; want payload only", r.GetWithPayload(), r.GetWithVectors())
			}
			tc.check(t, r)
		})
	}
}

func TestSearchRejectsBadQueriesWithoutCalling(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	s := open(t, srv, qdrant.Config{})
	tests := []struct {
		name string
		q    vectors.Query
		dim  bool // want vectors.ErrDimension
	}{
		{"no vector", vectors.Query{Limit: 3}, false},
		{"sparse lengths differ", vectors.Query{Sparse: vectors.Sparse{Indices: []uint32{1}}}, false},
		{"dense too short", vectors.Query{Dense: []float32{1}}, true},
	}
	for _, tc := range tests {
		_, err := s.Search(t.Context(), tc.q)
		if err == nil || errors.Is(err, vectors.ErrDimension) != tc.dim {
			t.Errorf("%s: Search = %v, want an error (ErrDimension: %v)", tc.name, err, tc.dim)
		}
	}
	if n := len(srv.Calls(qc.Points_Query_FullMethodName)); n != 0 {
		t.Errorf("%d Query calls for rejected queries, want none", n)
	}
}

// nearestOn checks a nearest query on the named vector.
func nearestOn(t *testing.T, what string, q *qc.Query, using, vector string) {
	t.Helper()
	n := q.GetNearest()
	if n == nil || using != vector {
		t.Errorf("%s: %v using %q, want nearest on %q", what, q, using, vector)
		return
	}
	if (vector == "dense") != (n.GetDense() != nil) || (vector == "bm25") != (n.GetSparse() != nil) {
		t.Errorf("%s: nearest %v, want a %s vector", what, n, vector)
	}
}

// checkFilter checks the filter of AuthorIDs a1, a2 and Categories posts:
// one must "match any" per field.
func checkFilter(t *testing.T, what string, f *qc.Filter) {
	t.Helper()
	got := map[string][]string{}
	for _, c := range f.GetMust() {
		got[c.GetField().GetKey()] = c.GetField().GetMatch().GetKeywords().GetStrings()
	}
	want := map[string][]string{"author_id": {"a1", "a2"}, "category": {"posts"}}
	if !reflect.DeepEqual(got, want) || len(f.GetShould()) > 0 || len(f.GetMustNot()) > 0 {
		t.Errorf("%s filter = %v, want must match-any %v", what, f, want)
	}
}

func TestSplitAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		host    string
		port    int
		wantErr bool
	}{
		{"localhost:6334", "localhost", 6334, false},
		{"qdrant.internal", "qdrant.internal", 6334, false},
		{"10.0.0.5:7000", "10.0.0.5", 7000, false},
		{"[::1]:6334", "::1", 6334, false},
		{"host:port", "", 0, true},
		{"host:0", "", 0, true},
		{"", "", 0, true},
	}
	for _, tc := range tests {
		host, port, err := qdrant.SplitAddr(tc.addr)
		if (err != nil) != tc.wantErr || host != tc.host || port != tc.port {
			t.Errorf("SplitAddr(%q) = %q, %d, %v; want %q, %d, error %v", tc.addr, host, port, err, tc.host, tc.port, tc.wantErr)
		}
	}
}

// rawClient is a plain go-client on srv, for setting up collections the
// store did not make.
func rawClient(t *testing.T, srv *qdranttest.Server) *qc.Client {
	t.Helper()
	c, err := qc.NewClient(&qc.Config{Host: srv.Host(), Port: srv.Port(), PoolSize: 1, SkipCompatibilityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
