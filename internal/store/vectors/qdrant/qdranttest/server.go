// Package qdranttest is an in-process stand-in for a Qdrant server, for
// tests of code that talks to Qdrant through the official gRPC client. It
// serves the Qdrant gRPC services on a loopback listener and implements the
// methods twin's Qdrant store calls on top of a real vectors.Store (the
// embedded one by default), so searches, filters, deletes and fusion have
// real semantics. It records every call, so a test can check the requests
// themselves (the collection's vectors and indexes, wait=true, exact
// counts).
//
// It is strict on purpose: a request shape it does not implement is refused
// with codes.Unimplemented and a message naming the shape, rather than
// answered approximately, so a change in what the client sends fails a test
// instead of passing silently. What it cannot tell about a real server is
// in ../README.md.
package qdranttest

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/twin-llm/twin/internal/store/vectors"
	"github.com/twin-llm/twin/internal/store/vectors/embedded"
)

// Version is what HealthCheck reports unless WithVersion says otherwise.
const Version = "1.17.0"

// Backend opens the store behind one collection: a fresh directory and the
// collection's dense size.
type Backend func(dir string, dim int) (vectors.Store, error)

// EmbeddedBackend is the default Backend: twin's embedded store.
func EmbeddedBackend(dir string, dim int) (vectors.Store, error) {
	return embedded.Open(dir, dim)
}

// Call is one recorded request.
type Call struct {
	Method  string        // full gRPC method name, e.g. qdrant.Points_Upsert_FullMethodName
	Request proto.Message // a copy of the request
	APIKey  string        // the api-key header, if any
	Err     error         // what the server answered with, nil on success
}

type options struct {
	apiKey  string
	tls     *tls.Config
	version string
	backend Backend
}

// Option configures a Server.
type Option func(*options)

// WithAPIKey makes the server refuse calls without this api-key header
// (codes.Unauthenticated), as Qdrant does when service.api_key is set.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithTLS serves TLS with cfg.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithVersion sets the version HealthCheck reports.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithBackend replaces the embedded store behind collections.
func WithBackend(b Backend) Option { return func(o *options) { o.backend = b } }

// Server is the fake Qdrant.
type Server struct {
	qdrant.UnimplementedQdrantServer
	opts   options
	dir    string
	lis    net.Listener
	server *grpc.Server

	// mu guards collections, calls and nextOp.
	mu          sync.Mutex
	collections map[string]*collection
	calls       []Call
	nextOp      uint64
}

// collection is one Qdrant collection: its store, and the payloads as the
// client sent them, because Qdrant returns a payload verbatim while the
// store keeps only twin's Payload fields.
type collection struct {
	dir    string
	create *qdrant.CreateCollection
	dim    int
	sparse string // name of the sparse vector, "" if none
	store  vectors.Store

	// mu guards indexes and payloads; the store has its own locking.
	mu       sync.Mutex
	indexes  map[string]qdrant.FieldType
	payloads map[string]map[string]*qdrant.Value
}

// Start serves a fake Qdrant on 127.0.0.1 with a fresh temporary directory
// and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("qdranttest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New serves a fake Qdrant on 127.0.0.1 keeping collections under dir.
func New(dir string, opts ...Option) (*Server, error) {
	o := options{version: Version, backend: EmbeddedBackend}
	for _, opt := range opts {
		opt(&o)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{opts: o, dir: dir, lis: lis, collections: map[string]*collection{}}
	serverOpts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.record, s.authenticate)}
	if o.tls != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(o.tls)))
	}
	s.server = grpc.NewServer(serverOpts...)
	qdrant.RegisterQdrantServer(s.server, s)
	qdrant.RegisterCollectionsServer(s.server, &collectionsService{s: s})
	qdrant.RegisterPointsServer(s.server, &pointsService{s: s})
	go s.server.Serve(lis) //nolint:errcheck // Serve returns when Close stops it.
	return s, nil
}

// Addr is the listening address, host:port.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Host is the listening host.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the listening port.
func (s *Server) Port() int { return s.lis.Addr().(*net.TCPAddr).Port }

// Close stops serving and closes every collection's store.
func (s *Server) Close() {
	s.server.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.collections {
		c.store.Close()
	}
	s.collections = map[string]*collection{}
}

// Calls returns the recorded calls to the given full method names, in
// order; with no names, all of them.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Collection returns the recorded create request and the payload indexes
// of a collection, and whether it exists.
func (s *Server) Collection(name string) (*qdrant.CreateCollection, map[string]qdrant.FieldType, bool) {
	c, err := s.collection(name)
	if err != nil {
		return nil, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return proto.Clone(c.create).(*qdrant.CreateCollection), maps.Clone(c.indexes), true
}

func (s *Server) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	call := Call{Method: info.FullMethod, APIKey: apiKey(ctx), Err: err}
	if m, ok := req.(proto.Message); ok {
		call.Request = proto.Clone(m)
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	return resp, err
}

func (s *Server) authenticate(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.opts.apiKey != "" && apiKey(ctx) != s.opts.apiKey {
		return nil, status.Error(codes.Unauthenticated, "Invalid api-key")
	}
	return handler(ctx, req)
}

func apiKey(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("api-key"); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *Server) collection(name string) (*collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.collections[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

func (s *Server) operation() *qdrant.UpdateResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextOp++
	op := s.nextOp
	return &qdrant.UpdateResult{OperationId: &op, Status: qdrant.UpdateStatus_Completed}
}

// HealthCheck answers what qdrant.NewClient and the store's Open ask.
func (s *Server) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine (twin fake)", Version: s.opts.version}, nil
}

func unimplemented(format string, args ...any) error {
	return status.Errorf(codes.Unimplemented, "qdranttest: "+format, args...)
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Wrong input: "+format, args...)
}

// storeError maps a backend error to a status.
func storeError(err error) error {
	if errors.Is(err, vectors.ErrDimension) {
		return invalid("%v", err)
	}
	return status.Errorf(codes.Internal, "Service internal error: %v", err)
}

// collectionsService implements qdrant.Collections.
type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	s *Server
}

// validName accepts the collection names tests need; Qdrant itself is
// more permissive.
func validName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return true
}

func (cs *collectionsService) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	s := cs.s
	name := req.GetCollectionName()
	if !validName(name) {
		return nil, invalid("collection name %q", name)
	}
	c := &collection{
		dir:      filepath.Join(s.dir, name),
		create:   proto.Clone(req).(*qdrant.CreateCollection),
		indexes:  map[string]qdrant.FieldType{},
		payloads: map[string]map[string]*qdrant.Value{},
	}
	// The backend holds one dense vector (cosine) and at most one sparse
	// vector with IDF; a collection asking for anything else would get
	// other semantics than Qdrant's, so it is refused.
	dense := req.GetVectorsConfig().GetParamsMap().GetMap()
	if len(dense) != 1 {
		return nil, unimplemented("collections with exactly one named dense vector, got %v", req.GetVectorsConfig())
	}
	for _, p := range dense {
		if p.GetDistance() != qdrant.Distance_Cosine {
			return nil, unimplemented("dense distance %s (only Cosine)", p.GetDistance())
		}
		if p.GetSize() == 0 {
			return nil, invalid("vector size must be positive")
		}
		c.dim = int(p.GetSize())
	}
	sparse := req.GetSparseVectorsConfig().GetMap()
	if len(sparse) > 1 {
		return nil, unimplemented("more than one sparse vector")
	}
	for n, p := range sparse {
		if p.GetModifier() != qdrant.Modifier_Idf {
			return nil, unimplemented("sparse vector %q with modifier %s (only Idf: the backend always applies IDF)", n, p.GetModifier())
		}
		c.sparse = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.collections[name]; ok {
		return nil, invalid("Collection `%s` already exists!", name)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, storeError(err)
	}
	store, err := s.opts.backend(c.dir, c.dim)
	if err != nil {
		return nil, storeError(err)
	}
	c.store = store
	s.collections[name] = c
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (cs *collectionsService) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	s := cs.s
	s.mu.Lock()
	c, ok := s.collections[req.GetCollectionName()]
	delete(s.collections, req.GetCollectionName())
	s.mu.Unlock()
	if !ok {
		// Qdrant answers false, not an error, for a missing collection.
		return &qdrant.CollectionOperationResponse{Result: false}, nil
	}
	if err := c.store.Close(); err != nil {
		return nil, storeError(err)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return nil, storeError(err)
	}
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (cs *collectionsService) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	_, err := cs.s.collection(req.GetCollectionName())
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: err == nil}}, nil
}

func (cs *collectionsService) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &qdrant.ListCollectionsResponse{}
	for name := range s.collections {
		resp.Collections = append(resp.Collections, &qdrant.CollectionDescription{Name: name})
	}
	slices.SortFunc(resp.Collections, func(a, b *qdrant.CollectionDescription) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

func (cs *collectionsService) Get(ctx context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	c, err := cs.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n, err := c.store.Count(ctx, vectors.Filter{})
	if err != nil {
		return nil, storeError(err)
	}
	points := uint64(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	schema := map[string]*qdrant.PayloadSchemaInfo{}
	for field, t := range c.indexes {
		info := &qdrant.PayloadSchemaInfo{}
		if t == qdrant.FieldType_FieldTypeKeyword {
			info.DataType = qdrant.PayloadSchemaType_Keyword
		}
		schema[field] = info
	}
	return &qdrant.GetCollectionInfoResponse{Result: &qdrant.CollectionInfo{
		Status: qdrant.CollectionStatus_Green,
		Config: &qdrant.CollectionConfig{Params: &qdrant.CollectionParams{
			ShardNumber:         1,
			VectorsConfig:       c.create.GetVectorsConfig(),
			SparseVectorsConfig: c.create.GetSparseVectorsConfig(),
		}},
		PayloadSchema: schema,
		PointsCount:   &points,
	}}, nil
}

// pointsService implements qdrant.Points.
type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

func (ps *pointsService) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	c, err := ps.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if !isFilterField(req.GetFieldName()) {
		return nil, unimplemented("payload index on %q (only the filter fields)", req.GetFieldName())
	}
	if req.FieldType == nil || req.GetFieldType() != qdrant.FieldType_FieldTypeKeyword {
		return nil, unimplemented("payload index of type %v on %q (only keyword)", req.FieldType, req.GetFieldName())
	}
	c.mu.Lock()
	c.indexes[req.GetFieldName()] = req.GetFieldType()
	c.mu.Unlock()
	return &qdrant.PointsOperationResponse{Result: ps.s.operation()}, nil
}

// Upsert applies the points synchronously whatever Wait says; tests check
// Wait on the recorded call.
func (ps *pointsService) Upsert(ctx context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	c, err := ps.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.UpdateFilter != nil || req.UpdateMode != nil {
		return nil, unimplemented("conditional upserts")
	}
	points := make([]vectors.Point, 0, len(req.GetPoints()))
	for _, p := range req.GetPoints() {
		point, err := c.point(p)
		if err != nil {
			return nil, err
		}
		points = append(points, point)
	}
	// Payloads first: a concurrent query that finds a new point must find
	// its payload too.
	old := map[string]map[string]*qdrant.Value{}
	c.mu.Lock()
	for i, p := range req.GetPoints() {
		old[points[i].ID] = c.payloads[points[i].ID]
		c.payloads[points[i].ID] = p.GetPayload()
	}
	c.mu.Unlock()
	if err := c.store.Upsert(ctx, points); err != nil {
		c.mu.Lock()
		maps.Copy(c.payloads, old)
		c.mu.Unlock()
		return nil, storeError(err)
	}
	return &qdrant.PointsOperationResponse{Result: ps.s.operation()}, nil
}

// point translates one PointStruct, checking what Qdrant checks: a valid
// id, known vector names, the dense size, a well-formed sparse vector.
func (c *collection) point(p *qdrant.PointStruct) (vectors.Point, error) {
	id, err := uuidOf(p.GetId())
	if err != nil {
		return vectors.Point{}, err
	}
	named, ok := p.GetVectors().GetVectorsOptions().(*qdrant.Vectors_Vectors)
	if !ok {
		return vectors.Point{}, unimplemented("point %s: unnamed vectors (only named ones)", id)
	}
	point := vectors.Point{ID: id}
	for name, v := range named.Vectors.GetVectors() {
		switch {
		case name == c.sparse:
			sv, ok := v.GetVector().(*qdrant.Vector_Sparse)
			if !ok {
				return vectors.Point{}, invalid("point %s: vector %q is sparse", id, name)
			}
			sp, err := sparseOf(sv.Sparse.GetIndices(), sv.Sparse.GetValues())
			if err != nil {
				return vectors.Point{}, err
			}
			point.Sparse = sp
		case c.isDense(name):
			dv, ok := v.GetVector().(*qdrant.Vector_Dense)
			if !ok {
				return vectors.Point{}, invalid("point %s: vector %q is dense", id, name)
			}
			if got := len(dv.Dense.GetData()); got != c.dim {
				return vectors.Point{}, invalid("Vector dimension error: expected dim: %d, got %d", c.dim, got)
			}
			point.Dense = dv.Dense.GetData()
		default:
			return vectors.Point{}, invalid("Not existing vector name error: %s", name)
		}
	}
	if point.Dense == nil {
		return vectors.Point{}, unimplemented("point %s without its dense vector", id)
	}
	pl, err := payloadOf(p.GetPayload())
	if err != nil {
		return vectors.Point{}, fmt.Errorf("point %s: %w", id, err)
	}
	point.Payload = pl
	return point, nil
}

func (c *collection) isDense(name string) bool {
	_, ok := c.create.GetVectorsConfig().GetParamsMap().GetMap()[name]
	return ok
}

func uuidOf(id *qdrant.PointId) (string, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", invalid("Unable to parse UUID: %s", v.Uuid)
		}
		// Qdrant keeps UUIDs, not strings: it answers in canonical form.
		return u.String(), nil
	case *qdrant.PointId_Num:
		return "", unimplemented("numeric point ids")
	default:
		return "", invalid("point id missing")
	}
}

func sparseOf(indices []uint32, values []float32) (vectors.Sparse, error) {
	if len(indices) != len(values) {
		return vectors.Sparse{}, invalid("Sparse vector indices and values must have the same length")
	}
	seen := make(map[uint32]bool, len(indices))
	for _, i := range indices {
		if seen[i] {
			return vectors.Sparse{}, invalid("Sparse vector must have unique indices")
		}
		seen[i] = true
	}
	// vectors.Sparse wants ascending ids; Qdrant takes any order.
	order := make([]int, len(indices))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(indices[a], indices[b]) })
	sp := vectors.Sparse{Indices: make([]uint32, len(indices)), Values: make([]float32, len(values))}
	for to, from := range order {
		sp.Indices[to], sp.Values[to] = indices[from], values[from]
	}
	return sp, nil
}

// isFilterField says whether the backend can filter on a payload field.
func isFilterField(field string) bool {
	switch field {
	case "document_id", "author_id", "category", "platform":
		return true
	}
	return false
}

// payloadOf reads the fields the backend stores. The filter fields must be
// strings when present: a keyword index on a number would not match a
// keyword condition in Qdrant either.
func payloadOf(m map[string]*qdrant.Value) (vectors.Payload, error) {
	str := func(key string) (string, error) {
		v, ok := m[key]
		if !ok {
			return "", nil
		}
		sv, ok := v.GetKind().(*qdrant.Value_StringValue)
		if !ok {
			return "", invalid("payload %q is not a string", key)
		}
		return sv.StringValue, nil
	}
	var p vectors.Payload
	for key, dst := range map[string]*string{
		"document_id": &p.DocumentID,
		"author_id":   &p.AuthorID,
		"category":    &p.Category,
		"platform":    &p.Platform,
	} {
		v, err := str(key)
		if err != nil {
			return p, err
		}
		*dst = v
	}
	p.Author = m["author"].GetStringValue()
	p.Title = m["title"].GetStringValue()
	p.Link = m["link"].GetStringValue()
	p.Text = m["text"].GetStringValue()
	p.ChunkIndex = int(m["chunk_index"].GetIntegerValue())
	return p, nil
}

// Delete implements the filtered delete: must document_id = one keyword,
// optionally must_not has_id; anything else is refused.
func (ps *pointsService) Delete(ctx context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	c, err := ps.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	sel, ok := req.GetPoints().GetPointsSelectorOneOf().(*qdrant.PointsSelector_Filter)
	if !ok {
		return nil, unimplemented("delete by id list (only by filter)")
	}
	f := sel.Filter
	if len(f.GetShould()) > 0 || f.GetMinShould() != nil || len(f.GetMust()) != 1 || len(f.GetMustNot()) > 1 {
		return nil, unimplemented("delete filter %v (only must document_id, must_not has_id)", f)
	}
	doc, err := c.keywordCondition(f.GetMust()[0])
	if err != nil {
		return nil, err
	}
	if doc.field != "document_id" || len(doc.values) != 1 {
		return nil, unimplemented("delete filter on %s %v (only one document_id)", doc.field, doc.values)
	}
	var keep []string
	if len(f.GetMustNot()) == 1 {
		has, ok := f.GetMustNot()[0].GetConditionOneOf().(*qdrant.Condition_HasId)
		if !ok {
			return nil, unimplemented("delete must_not %v (only has_id)", f.GetMustNot()[0])
		}
		for _, id := range has.HasId.GetHasId() {
			u, err := uuidOf(id)
			if err != nil {
				return nil, err
			}
			keep = append(keep, u)
		}
	}
	if _, err := c.store.DeleteDocument(ctx, doc.values[0], keep); err != nil {
		return nil, storeError(err)
	}
	return &qdrant.PointsOperationResponse{Result: ps.s.operation()}, nil
}

func (ps *pointsService) Count(ctx context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	c, err := ps.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	f, err := c.filter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	n, err := c.store.Count(ctx, f)
	if err != nil {
		return nil, storeError(err)
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: uint64(n)}}, nil
}

type keywordMatch struct {
	field  string
	values []string
}

// keywordCondition reads a keyword or "match any" condition on an indexed
// filter field. Filtering on a field without a payload index is refused,
// as a Qdrant with strict mode does, so a test sees missing indexes.
func (c *collection) keywordCondition(cond *qdrant.Condition) (keywordMatch, error) {
	fc, ok := cond.GetConditionOneOf().(*qdrant.Condition_Field)
	if !ok {
		return keywordMatch{}, unimplemented("condition %v (only field matches)", cond)
	}
	field := fc.Field.GetKey()
	if !isFilterField(field) {
		return keywordMatch{}, unimplemented("condition on %q (only document_id, author_id, category, platform)", field)
	}
	c.mu.Lock()
	_, indexed := c.indexes[field]
	c.mu.Unlock()
	if !indexed {
		return keywordMatch{}, status.Errorf(codes.FailedPrecondition, "Bad request: Index required but not found for %q", field)
	}
	switch m := fc.Field.GetMatch().GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return keywordMatch{field, []string{m.Keyword}}, nil
	case *qdrant.Match_Keywords:
		return keywordMatch{field, m.Keywords.GetStrings()}, nil
	default:
		return keywordMatch{}, unimplemented("match %v on %q (only keyword and keywords)", fc.Field, field)
	}
}

// filter translates a search or count filter: must conditions of keyword
// matches, AND-ed. Two conditions on one field intersect, as in Qdrant.
func (c *collection) filter(f *qdrant.Filter) (vectors.Filter, error) {
	var out vectors.Filter
	if f == nil {
		return out, nil
	}
	if len(f.GetShould()) > 0 || len(f.GetMustNot()) > 0 || f.GetMinShould() != nil {
		return out, unimplemented("filter %v (only must)", f)
	}
	sets := map[string][]string{}
	for _, cond := range f.GetMust() {
		m, err := c.keywordCondition(cond)
		if err != nil {
			return out, err
		}
		if len(m.values) == 0 {
			// Qdrant's "match any" of nothing matches nothing; vectors.Filter
			// has no way to say so.
			return out, unimplemented("match any of an empty list on %q", m.field)
		}
		if prev, ok := sets[m.field]; ok {
			m.values = slices.DeleteFunc(m.values, func(v string) bool { return !slices.Contains(prev, v) })
			if len(m.values) == 0 {
				return out, unimplemented("conditions on %q that match nothing", m.field)
			}
		}
		sets[m.field] = m.values
	}
	out.DocumentIDs = sets["document_id"]
	out.AuthorIDs = sets["author_id"]
	out.Categories = sets["category"]
	out.Platforms = sets["platform"]
	return out, nil
}

// Query implements the Query API for a nearest query on one named vector,
// and for a dense and a sparse prefetch fused with parameterized RRF.
func (ps *pointsService) Query(ctx context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	c, err := ps.s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.Offset != nil && req.GetOffset() != 0 || req.ScoreThreshold != nil || req.LookupFrom != nil {
		return nil, unimplemented("offset, score_threshold and lookup_from")
	}
	if wv := req.GetWithVectors(); wv != nil && wv.GetEnable() || wv.GetInclude() != nil {
		return nil, unimplemented("with_vectors")
	}
	withPayload := false
	if wp := req.GetWithPayload(); wp != nil {
		if _, ok := wp.GetSelectorOptions().(*qdrant.WithPayloadSelector_Enable); !ok {
			return nil, unimplemented("payload include/exclude selectors")
		}
		withPayload = wp.GetEnable()
	}
	q := vectors.Query{Limit: 10} // Qdrant's default limit
	if req.Limit != nil {
		q.Limit = int(req.GetLimit())
	}
	if q.Filter, err = c.filter(req.GetFilter()); err != nil {
		return nil, err
	}
	if len(req.GetPrefetch()) == 0 {
		if err := c.nearest(req.GetQuery(), req.GetUsing(), &q); err != nil {
			return nil, err
		}
	} else if err := c.fusion(req, &q); err != nil {
		return nil, err
	}

	hits, err := c.store.Search(ctx, q)
	if err != nil {
		return nil, storeError(err)
	}
	resp := &qdrant.QueryResponse{Result: make([]*qdrant.ScoredPoint, 0, len(hits))}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hits {
		sp := &qdrant.ScoredPoint{Id: qdrant.NewIDUUID(h.ID), Score: float32(h.Score), Version: 1}
		if withPayload {
			sp.Payload = c.payloads[h.ID]
		}
		resp.Result = append(resp.Result, sp)
	}
	return resp, nil
}

// nearest reads a nearest query on one named vector into q.
func (c *collection) nearest(query *qdrant.Query, using string, q *vectors.Query) error {
	n, ok := query.GetVariant().(*qdrant.Query_Nearest)
	if !ok {
		return unimplemented("query %v (only nearest, or prefetch with rrf)", query)
	}
	switch v := n.Nearest.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		if !c.isDense(using) {
			return invalid("dense query using %q, not a dense vector of the collection", using)
		}
		if got := len(v.Dense.GetData()); got != c.dim {
			return invalid("Vector dimension error: expected dim: %d, got %d", c.dim, got)
		}
		q.Dense = v.Dense.GetData()
	case *qdrant.VectorInput_Sparse:
		if using == "" || using != c.sparse {
			return invalid("sparse query using %q, not the sparse vector of the collection", using)
		}
		sp, err := sparseOf(v.Sparse.GetIndices(), v.Sparse.GetValues())
		if err != nil {
			return err
		}
		q.Sparse = sp
	default:
		return unimplemented("nearest %v (only dense and sparse vectors)", n.Nearest)
	}
	return nil
}

// fusion reads a hybrid query: exactly one dense and one sparse prefetch,
// not nested, with the same limit and filter, fused by RRF with the k the
// backend uses.
func (c *collection) fusion(req *qdrant.QueryPoints, q *vectors.Query) error {
	switch v := req.GetQuery().GetVariant().(type) {
	case *qdrant.Query_Rrf:
		// Qdrant scores 0-based position p as 1/(k + p); the backend scores
		// 1-based rank r as 1/(vectors.RRFK + r). They are the same fusion
		// only for k = vectors.RRFK + 1.
		if v.Rrf.K == nil || v.Rrf.GetK() != vectors.RRFK+1 || len(v.Rrf.GetWeights()) > 0 {
			return unimplemented("rrf %v (only k=%d without weights, the backend's fusion)", v.Rrf, vectors.RRFK+1)
		}
	case *qdrant.Query_Fusion:
		return unimplemented("fusion %s: Qdrant's default RRF k (2) is not the backend's; use rrf with k=%d", v.Fusion, vectors.RRFK+1)
	default:
		return unimplemented("query %v over prefetches (only rrf)", req.GetQuery())
	}
	if req.Using != nil {
		return invalid("using with a fusion query")
	}
	filtered := req.Filter != nil
	pre := req.GetPrefetch()
	if len(pre) != 2 {
		return unimplemented("%d prefetches (only a dense and a sparse one)", len(pre))
	}
	for i, p := range pre {
		if len(p.GetPrefetch()) > 0 || p.ScoreThreshold != nil || p.LookupFrom != nil {
			return unimplemented("nested prefetch, score_threshold or lookup_from in prefetch %d", i)
		}
		if p.Limit == nil {
			return unimplemented("prefetch %d without limit", i)
		}
		// Qdrant applies the top-level filter to the prefetches too; the
		// backend has one filter for both sides, so all that are set must
		// agree.
		if p.Filter != nil {
			f, err := c.filter(p.GetFilter())
			if err != nil {
				return err
			}
			if filtered && !sameFilter(f, q.Filter) {
				return unimplemented("prefetch %d filter differs from the others", i)
			}
			q.Filter, filtered = f, true
		}
		if err := c.nearest(p.GetQuery(), p.GetUsing(), q); err != nil {
			return fmt.Errorf("prefetch %d: %w", i, err)
		}
	}
	if pre[0].GetLimit() != pre[1].GetLimit() {
		return unimplemented("prefetch limits %d and %d differ", pre[0].GetLimit(), pre[1].GetLimit())
	}
	if q.Dense == nil || q.Sparse.Indices == nil {
		return unimplemented("prefetches other than one dense and one sparse")
	}
	q.Prefetch = int(pre[0].GetLimit())
	return nil
}

func sameFilter(a, b vectors.Filter) bool {
	eq := func(x, y []string) bool {
		x, y = slices.Clone(x), slices.Clone(y)
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	return eq(a.DocumentIDs, b.DocumentIDs) && eq(a.AuthorIDs, b.AuthorIDs) &&
		eq(a.Categories, b.Categories) && eq(a.Platforms, b.Platforms)
}
