// Package qdrant is the vectors.Store on a Qdrant server, through the
// official gRPC client (github.com/qdrant/go-client).
//
// One collection holds twin's chunks, with two named vectors: "dense"
// (cosine) and "bm25" (sparse, with Qdrant's IDF modifier, so the stored
// values are term frequencies and the IDF is applied at query time, as the
// vectors.Sparse contract says). The filterable payload fields have keyword
// payload indexes. Hybrid search is one Query API call: a dense and a sparse
// prefetch fused with reciprocal rank fusion, scored as vectors.Query says
// (see RRFK).
package qdrant

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"

	"github.com/twin-llm/twin/internal/store/vectors"
)

// The collection's named vectors, and the defaults of Config.
const (
	DenseVector  = "dense"
	SparseVector = "bm25"

	DefaultCollection = "twin_chunks"
	DefaultPort       = 6334
	DefaultBatchSize  = 256
)

// RRFK is the k sent with Qdrant's parameterized RRF. Qdrant scores a
// point at 0-based position p in a prefetch list 1/(k + p), while the
// vectors.Query contract (and the embedded store) score the point at
// 1-based rank r 1/(vectors.RRFK + r); the two agree when k is
// vectors.RRFK + 1. Plain Fusion_RRF would use Qdrant's default k (2).
const RRFK = vectors.RRFK + 1

// ErrCollectionSchema is an existing collection whose vectors are not the
// ones this store needs (a missing or differently configured "dense" or
// "bm25" vector). A dense size that differs from Config.Dim is
// vectors.ErrDimension instead.
var ErrCollectionSchema = errors.New("qdrant: collection schema does not match")

// ErrServerVersion is a server too old for the requests this store sends.
var ErrServerVersion = errors.New("qdrant: server version not supported")

// minMajor and minMinor: parameterized RRF (Query.rrf with k), which hybrid
// search needs to fuse as vectors.Query says rather than with Qdrant's
// default k, arrived in Qdrant 1.16.
const (
	minMajor = 1
	minMinor = 16
)

// Config says which server and collection to use.
type Config struct {
	Host string // default "localhost"
	Port int    // gRPC port; default 6334
	// APIKey, when set, is sent as the api-key header on every call. Use it
	// with UseTLS: without TLS it travels in plaintext.
	APIKey string
	UseTLS bool
	// TLSConfig, with UseTLS, sets roots or client certificates; nil means
	// the system roots and TLS 1.3.
	TLSConfig  *tls.Config
	Collection string // default "twin_chunks"
	Dim        int    // dense dimension; required
	// BatchSize is the number of points per Upsert request, which keeps a
	// large upsert under gRPC's message size limit; default 256.
	BatchSize int
	// PoolSize is the number of gRPC connections; 0 means the client's
	// default (3).
	PoolSize uint
	// DialOptions are extra gRPC dial options, applied after the client's
	// own.
	DialOptions []grpc.DialOption
}

// SplitAddr reads the --qdrant flag's host[:port]; the port defaults to
// 6334, Qdrant's gRPC port.
func SplitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: the whole address is the host.
		if _, _, err2 := net.SplitHostPort(addr + ":0"); err2 != nil || addr == "" {
			return "", 0, fmt.Errorf("qdrant: address %q: %w", addr, err)
		}
		return addr, DefaultPort, nil
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("qdrant: address %q: bad port %q", addr, p)
	}
	return host, port, nil
}

// Store is a vectors.Store on one Qdrant collection. It is safe for
// concurrent use.
type Store struct {
	client     *qdrant.Client
	collection string
	dim        int
	batchSize  int
	version    string
	closed     atomic.Bool
}

var _ vectors.Store = (*Store)(nil)

// Open connects to the server, checks that it answers, and creates the
// collection and its payload indexes if they are missing. An existing
// collection must have the same vectors: a different dense size is
// vectors.ErrDimension, anything else ErrCollectionSchema.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("qdrant: dense dimension %d: must be positive", cfg.Dim)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Collection == "" {
		cfg.Collection = DefaultCollection
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:        cfg.Host,
		Port:        cfg.Port,
		APIKey:      cfg.APIKey,
		UseTLS:      cfg.UseTLS,
		TLSConfig:   cfg.TLSConfig,
		PoolSize:    cfg.PoolSize,
		GrpcOptions: cfg.DialOptions,
		// The client's own check calls the server without our context and
		// only logs to the global slog logger; Open checks the version
		// itself and fails with an error instead.
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: client for %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	s := &Store{client: client, collection: cfg.Collection, dim: cfg.Dim, batchSize: cfg.BatchSize}
	if err := s.open(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	// The gRPC connection is lazy: without this call an unreachable server,
	// a wrong API key or a TLS mismatch would surface at the first write.
	health, err := s.client.HealthCheck(ctx)
	if err != nil {
		return fmt.Errorf("qdrant: health check: %w", err)
	}
	s.version = health.GetVersion()
	if v, err := qdrant.ParseVersion(s.version); err == nil &&
		(v.Major < minMajor || v.Major == minMajor && v.Minor < minMinor) {
		return fmt.Errorf("%w: %s, need %d.%d or later", ErrServerVersion, s.version, minMajor, minMinor)
	}
	return s.ensureCollection(ctx)
}

// ensureCollection creates the collection when missing, checks its vectors,
// and creates any missing payload index, so a collection made by an older
// version of twin gains new indexes.
func (s *Store) ensureCollection(ctx context.Context) error {
	exists, err := s.client.CollectionExists(ctx, s.collection)
	if err != nil {
		return fmt.Errorf("qdrant: collection %q: %w", s.collection, err)
	}
	if !exists {
		if err := s.client.CreateCollection(ctx, s.createRequest()); err != nil {
			// Another process may have created it since the check; that
			// collection is as good as ours if its schema checks out below.
			if again, err2 := s.client.CollectionExists(ctx, s.collection); err2 != nil || !again {
				return fmt.Errorf("qdrant: create collection %q: %w", s.collection, err)
			}
		}
	}
	info, err := s.client.GetCollectionInfo(ctx, s.collection)
	if err != nil {
		return fmt.Errorf("qdrant: collection %q: %w", s.collection, err)
	}
	if err := checkSchema(info, s.dim); err != nil {
		return fmt.Errorf("qdrant: collection %q: %w", s.collection, err)
	}
	// The fields Filter narrows on get keyword indexes, so filtered
	// searches, counts and deletes do not scan the collection.
	wait := true
	for _, field := range []string{fieldDocumentID, fieldAuthorID, fieldCategory, fieldPlatform} {
		if _, ok := info.GetPayloadSchema()[field]; ok {
			continue
		}
		_, err := s.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
			CollectionName: s.collection,
			Wait:           &wait,
			FieldName:      field,
			FieldType:      qdrant.FieldType_FieldTypeKeyword.Enum(),
		})
		if err != nil {
			return fmt.Errorf("qdrant: payload index %q on %q: %w", field, s.collection, err)
		}
	}
	return nil
}

func (s *Store) createRequest() *qdrant.CreateCollection {
	return &qdrant.CreateCollection{
		CollectionName: s.collection,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			DenseVector: {Size: uint64(s.dim), Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			SparseVector: {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	}
}

// checkSchema says whether an existing collection has the vectors this
// store writes and queries.
func checkSchema(info *qdrant.CollectionInfo, dim int) error {
	params := info.GetConfig().GetParams()
	dense, ok := params.GetVectorsConfig().GetParamsMap().GetMap()[DenseVector]
	if !ok {
		return fmt.Errorf("%w: no named vector %q", ErrCollectionSchema, DenseVector)
	}
	if dense.GetSize() != uint64(dim) {
		return fmt.Errorf("%w: vector %q has size %d, store opened with %d",
			vectors.ErrDimension, DenseVector, dense.GetSize(), dim)
	}
	if dense.GetDistance() != qdrant.Distance_Cosine {
		return fmt.Errorf("%w: vector %q has distance %s, want Cosine",
			ErrCollectionSchema, DenseVector, dense.GetDistance())
	}
	sparse, ok := params.GetSparseVectorsConfig().GetMap()[SparseVector]
	if !ok {
		return fmt.Errorf("%w: no sparse vector %q", ErrCollectionSchema, SparseVector)
	}
	if sparse.GetModifier() != qdrant.Modifier_Idf {
		return fmt.Errorf("%w: sparse vector %q has modifier %s, want Idf",
			ErrCollectionSchema, SparseVector, sparse.GetModifier())
	}
	return nil
}

// Dim is the dense dimension.
func (s *Store) Dim() int { return s.dim }

// Collection is the collection's name.
func (s *Store) Collection() string { return s.collection }

// ServerVersion is the version the server reported at Open.
func (s *Store) ServerVersion() string { return s.version }

// Close closes the connections. The collection stays.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("qdrant: close: %w", err)
	}
	return nil
}

// DropCollection deletes the store's collection and everything in it (for
// tests and a full reindex into a fresh collection).
func (s *Store) DropCollection(ctx context.Context) error {
	if s.closed.Load() {
		return vectors.ErrClosed
	}
	if err := s.client.DeleteCollection(ctx, s.collection); err != nil {
		return fmt.Errorf("qdrant: drop collection %q: %w", s.collection, err)
	}
	return nil
}

// Upsert writes points with wait=true: Qdrant answers once the operation is
// applied (written to its WAL and visible to searches), which is what
// vectors.Store promises. Every point is converted before the first request
// so a bad one writes nothing; a failure between batches leaves the earlier
// batches written, which is harmless because point ids are deterministic and
// a retry rewrites the same points.
func (s *Store) Upsert(ctx context.Context, points []vectors.Point) error {
	if s.closed.Load() {
		return vectors.ErrClosed
	}
	structs := make([]*qdrant.PointStruct, 0, len(points))
	for _, p := range points {
		ps, err := s.pointStruct(p)
		if err != nil {
			return err
		}
		structs = append(structs, ps)
	}
	wait := true
	for start := 0; start < len(structs); start += s.batchSize {
		end := min(start+s.batchSize, len(structs))
		_, err := s.client.Upsert(ctx, &qdrant.UpsertPoints{
			CollectionName: s.collection,
			Wait:           &wait,
			Points:         structs[start:end],
		})
		if err != nil {
			return fmt.Errorf("qdrant: upsert %d points into %q: %w", end-start, s.collection, err)
		}
	}
	return nil
}

func (s *Store) pointStruct(p vectors.Point) (*qdrant.PointStruct, error) {
	id, err := pointID(p.ID)
	if err != nil {
		return nil, err
	}
	if len(p.Dense) != s.dim {
		return nil, fmt.Errorf("%w: point %s has %d, store has %d", vectors.ErrDimension, p.ID, len(p.Dense), s.dim)
	}
	if len(p.Sparse.Indices) != len(p.Sparse.Values) {
		return nil, fmt.Errorf("qdrant: point %s: sparse vector has %d indices and %d values",
			p.ID, len(p.Sparse.Indices), len(p.Sparse.Values))
	}
	named := map[string]*qdrant.Vector{DenseVector: qdrant.NewVectorDense(p.Dense)}
	// A chunk without terms has no sparse vector at all: Qdrant accepts a
	// point without one of its named vectors, and it never matches a
	// sparse query.
	if len(p.Sparse.Indices) > 0 {
		named[SparseVector] = qdrant.NewVectorSparse(p.Sparse.Indices, p.Sparse.Values)
	}
	payload, err := toPayload(p.Payload)
	if err != nil {
		return nil, fmt.Errorf("qdrant: point %s: %w", p.ID, err)
	}
	return &qdrant.PointStruct{
		Id:      id,
		Vectors: qdrant.NewVectorsMap(named),
		Payload: payload,
	}, nil
}

// pointID checks that id is a UUID, the only string id Qdrant accepts, so
// the caller gets a clear error instead of the server's.
func pointID(id string) (*qdrant.PointId, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("qdrant: point id %q: not a UUID: %w", id, err)
	}
	return qdrant.NewIDUUID(id), nil
}

// DeleteDocument removes the document's points except keep, with one
// filtered delete (must document_id, must_not has_id keep). Qdrant's delete
// does not say how many points it removed, so the count is the document's
// exact point count before the delete minus the count after. That is exact
// as long as nothing else writes the document's points meanwhile, which
// holds in twin because one embed job at a time owns a document; a
// document with no points is not sent a delete at all.
func (s *Store) DeleteDocument(ctx context.Context, documentID string, keep []string) (int, error) {
	if s.closed.Load() {
		return 0, vectors.ErrClosed
	}
	if documentID == "" {
		return 0, errors.New("qdrant: delete document: empty document id")
	}
	filter := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(fieldDocumentID, documentID)}}
	var keepIDs []*qdrant.PointId
	for _, k := range keep {
		id, err := pointID(k)
		if err != nil {
			return 0, err
		}
		keepIDs = append(keepIDs, id)
	}
	before, err := s.count(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("qdrant: delete document %q: %w", documentID, err)
	}
	if before == 0 {
		return 0, nil
	}
	selection := &qdrant.Filter{Must: filter.Must}
	if len(keepIDs) > 0 {
		selection.MustNot = []*qdrant.Condition{qdrant.NewHasID(keepIDs...)}
	}
	wait := true
	_, err = s.client.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: s.collection,
		Wait:           &wait,
		Points:         qdrant.NewPointsSelectorFilter(selection),
	})
	if err != nil {
		return 0, fmt.Errorf("qdrant: delete document %q: %w", documentID, err)
	}
	after, err := s.count(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("qdrant: delete document %q: deleted, then: %w", documentID, err)
	}
	return max(before-after, 0), nil
}

// Count counts the points matching f, exactly.
func (s *Store) Count(ctx context.Context, f vectors.Filter) (int, error) {
	if s.closed.Load() {
		return 0, vectors.ErrClosed
	}
	n, err := s.count(ctx, toFilter(f))
	if err != nil {
		return 0, fmt.Errorf("qdrant: count: %w", err)
	}
	return n, nil
}

func (s *Store) count(ctx context.Context, f *qdrant.Filter) (int, error) {
	exact := true
	n, err := s.client.Count(ctx, &qdrant.CountPoints{
		CollectionName: s.collection,
		Filter:         f,
		Exact:          &exact,
	})
	return int(n), err
}

// Search runs q through the Query API: a nearest query on the named vector
// for a dense-only or sparse-only query; for a hybrid one, a dense and a
// sparse prefetch of q.Prefetch candidates each, both filtered, fused with
// RRF (see RRFK). Payloads come back, vectors do not.
func (s *Store) Search(ctx context.Context, q vectors.Query) ([]vectors.Hit, error) {
	if s.closed.Load() {
		return nil, vectors.ErrClosed
	}
	req, err := s.queryRequest(q)
	if err != nil {
		return nil, err
	}
	points, err := s.client.Query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("qdrant: search: %w", err)
	}
	hits := make([]vectors.Hit, 0, len(points))
	for _, p := range points {
		hits = append(hits, vectors.Hit{
			ID:      idString(p.GetId()),
			Score:   float64(p.GetScore()),
			Payload: fromPayload(p.GetPayload()),
		})
	}
	return hits, nil
}

// queryRequest builds the Query API request for q.
func (s *Store) queryRequest(q vectors.Query) (*qdrant.QueryPoints, error) {
	hasDense, hasSparse := len(q.Dense) > 0, len(q.Sparse.Indices) > 0
	if hasDense && len(q.Dense) != s.dim {
		return nil, fmt.Errorf("%w: query has %d, store has %d", vectors.ErrDimension, len(q.Dense), s.dim)
	}
	if len(q.Sparse.Indices) != len(q.Sparse.Values) {
		return nil, fmt.Errorf("qdrant: search: sparse query has %d indices and %d values",
			len(q.Sparse.Indices), len(q.Sparse.Values))
	}
	if !hasDense && !hasSparse {
		return nil, errors.New("qdrant: search: query without a dense or sparse vector")
	}
	limit := uint64(q.Limit)
	if q.Limit <= 0 {
		limit = 10
	}
	filter := toFilter(q.Filter)
	req := &qdrant.QueryPoints{
		CollectionName: s.collection,
		Limit:          &limit,
		WithPayload:    qdrant.NewWithPayload(true),
		WithVectors:    qdrant.NewWithVectors(false),
	}
	dense := func() *qdrant.Query { return qdrant.NewQueryDense(q.Dense) }
	sparse := func() *qdrant.Query { return qdrant.NewQuerySparse(q.Sparse.Indices, q.Sparse.Values) }
	switch {
	case hasDense && hasSparse:
		prefetch := uint64(q.Prefetch)
		if q.Prefetch <= 0 {
			prefetch = max(4*limit, 50)
		}
		// The filter goes on each prefetch: fusion only ranks what the
		// prefetches found, so they alone need it.
		req.Prefetch = []*qdrant.PrefetchQuery{
			{Query: dense(), Using: qdrant.PtrOf(DenseVector), Filter: filter, Limit: &prefetch},
			{Query: sparse(), Using: qdrant.PtrOf(SparseVector), Filter: filter, Limit: &prefetch},
		}
		req.Query = qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(RRFK))})
	case hasDense:
		req.Query, req.Using, req.Filter = dense(), qdrant.PtrOf(DenseVector), filter
	default:
		req.Query, req.Using, req.Filter = sparse(), qdrant.PtrOf(SparseVector), filter
	}
	return req, nil
}

func idString(id *qdrant.PointId) string {
	if u := id.GetUuid(); u != "" {
		return u
	}
	return fmt.Sprint(id.GetNum())
}
