package main

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/twin-llm/twin/internal/store/warehouse"
	"github.com/twin-llm/twin/streams"
)

// syncMode is --sync: how far an acknowledged write is durable. See the
// Durability section of docs/operations.md for what each one promises.
type syncMode string

const (
	// syncAlways: the embedded JetStream store and SQLite sync every write
	// to disk before acknowledging it, so an acknowledged write survives
	// an OS crash or power cut.
	syncAlways syncMode = "always"
	// syncWarehouse: SQLite syncs every commit, JetStream about every
	// natsSyncEvery. The warehouse, the source of truth, never loses a
	// commit; a power cut can lose the last moment of messages.
	syncWarehouse syncMode = "warehouse"
	// syncInterval: writes reach the page cache before they are
	// acknowledged (a crash of the process loses nothing) and the disk
	// within about a second (a power cut can lose that window).
	syncInterval syncMode = "interval"

	defaultSync = syncWarehouse
)

// natsSyncEvery is how often the embedded JetStream store syncs with
// --sync warehouse or interval: the window a power cut can lose, about as long as the
// one of SQLite's WAL, which its checkpointer syncs a second after a
// burst of commits. nats-server's own default is 2 minutes.
const natsSyncEvery = time.Second

func (m *syncMode) String() string {
	if *m == "" {
		return string(defaultSync)
	}
	return string(*m)
}

// Set rejects anything but the three modes, so that a typo in the flag, in
// TWIN_SYNC or in the config file fails the start instead of silently
// picking one.
func (m *syncMode) Set(v string) error {
	switch syncMode(v) {
	case syncAlways, syncWarehouse, syncInterval:
		*m = syncMode(v)
		return nil
	}
	return fmt.Errorf("sync mode %q: want always, warehouse or interval", v)
}

func (m *syncMode) Type() string { return "always|warehouse|interval" }

// mode is the mode in force; the zero value is the default.
func (m syncMode) mode() syncMode {
	if m == "" {
		return defaultSync
	}
	return m
}

// server sets the embedded nats-server's sync policy in cfg.
func (m syncMode) server(cfg streams.ServerConfig) streams.ServerConfig {
	if m.mode() == syncAlways {
		cfg.SyncAlways = true
	} else {
		cfg.SyncInterval = natsSyncEvery
	}
	return cfg
}

// sqlite is the SQLite warehouse's option for the mode.
func (m syncMode) sqlite() warehouse.SQLiteOption {
	return warehouse.SQLiteFullSync(m.mode() != syncInterval)
}

// noteExternal logs that an external NATS server syncs as its own
// configuration says: --sync cannot reach it.
func (m syncMode) noteExternal(log zerolog.Logger) {
	msg := "external NATS: its own config decides when its store syncs (nats-server's default: every 2 minutes)"
	if m.mode() == syncAlways {
		msg = "external NATS: --sync does not reach its store; for acknowledged messages to survive a power cut, its config needs jetstream { sync_interval: always }"
	}
	log.Info().Str("sync", string(m.mode())).Msg(msg)
}

// syncNote is the banner's sync line: the mode, how the embedded server
// syncs as it applied the setting (nil: an external server), and how the
// SQLite warehouse does.
func syncNote(m syncMode, ns *streams.Server) string {
	nats := "NATS as its own config says"
	if ns != nil {
		if always, every := ns.Sync(); always {
			nats = "JetStream before every ack"
		} else {
			nats = "JetStream every " + every.String()
		}
	}
	sqlite := "SQLite (if used) at every commit"
	if m.mode() == syncInterval {
		sqlite = "SQLite (if used) at checkpoints"
	}
	return fmt.Sprintf("%s: %s, %s", m.mode(), nats, sqlite)
}
