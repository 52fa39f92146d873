package warehouse

import (
	"path/filepath"
	"testing"
)

// The sync setting is a property of each connection, not of the file: a
// store reopened with another setting must commit with the new one, and
// the checkpointer must sync as the writer does.
func TestSQLiteFullSyncSetsSynchronousOnEveryWritingConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []SQLiteOption
		want string
	}{
		{"default", nil, "NORMAL"},
		{"full", []SQLiteOption{SQLiteFullSync(true)}, "FULL"},
		{"not full", []SQLiteOption{SQLiteFullSync(false)}, "NORMAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "warehouse.db")
			// First opened with the opposite setting, so that the one
			// under test cannot come from the file.
			other := SQLiteFullSync(tt.want != "FULL")
			s, err := OpenSQLite(t.Context(), path, other)
			if err != nil {
				t.Fatal(err)
			}
			mustUpsert(t, s, article("https://example.com/1", "Ada", "1"))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = OpenSQLite(t.Context(), path, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Synchronous(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("writer: synchronous = %s, want %s", got, tt.want)
			}
			var level int
			if err := s.checkpoints.db.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&level); err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"NORMAL": 1, "FULL": 2}[tt.want]; level != want {
				t.Errorf("checkpointer: synchronous = %d, want %d", level, want)
			}
		})
	}
}
