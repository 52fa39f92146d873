package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/twin-llm/twin/internal/config"
	"github.com/twin-llm/twin/internal/datalock"
	"github.com/twin-llm/twin/streams"
)

// natsFlags are the settings of twin nats.
type natsFlags struct {
	name, listen, monitor string
	cluster, clusterName  string
	routes                []string
	maxMemory, maxStore   config.Bytes
	sync                  syncMode
}

func newNATSCmd(g *globals) *cobra.Command {
	var f natsFlags
	cmd := &cobra.Command{
		Use:   "nats",
		Short: "Run a NATS JetStream server, alone or as a cluster member (for scale-out)",
		Long: `Run only a NATS server with JetStream: the one twin up embeds, as a process of its own,
for the components that twin run starts. With --cluster and --routes it is a member of a
cluster; three members and --stream-replicas 3 on twin run keep every stream and bucket on
all three, so that losing one member loses nothing.

Authentication is twin up's: the credentials are in <data>/nats-auth, made at the first
start and shared by every member that is given the same --data (on other machines, copy
that directory). Routes between members authenticate with a password derived from them.
The JetStream store is <data>/nats-<name>, one per member; a second server with the same
--data and --name refuses to start. See docs/scale-out.md.`,
		Example: `  twin nats --data /var/lib/twin
  twin nats --data /var/lib/twin --name n1 --listen 127.0.0.1:4222 --cluster 127.0.0.1:6222 \
    --routes nats://127.0.0.1:6223,nats://127.0.0.1:6224`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := f.sync.server(streams.ServerConfig{
				DataDir: g.data, Name: f.name, StoreDir: filepath.Join(g.data, "nats-"+f.name),
				Listen: f.listen, Monitor: f.monitor,
				MaxMemory: int64(f.maxMemory), MaxStore: int64(f.maxStore), Log: g.log,
			})
			if f.listen == "" || f.listen == "off" {
				return fmt.Errorf("--listen: twin nats serves clients on an address")
			}
			if f.cluster != "" {
				cfg.Cluster = &streams.ClusterConfig{Name: f.clusterName, Listen: f.cluster, Routes: f.routes}
			} else if len(f.routes) > 0 {
				return fmt.Errorf("--routes needs --cluster (this member's route address)")
			}
			lock, err := datalock.Acquire(cfg.StoreDir)
			if err != nil {
				return fmt.Errorf("NATS server %s: %w", f.name, err)
			}
			defer lock.Release()
			ns, err := streams.StartServer(cfg)
			if err != nil {
				return err
			}
			defer ns.Shutdown()
			w := g.stdout
			fmt.Fprintf(w, "nats     %s  (server %s, store %s, credentials %s)\n", ns.ClientURL(), f.name, cfg.StoreDir, streams.AuthDir(g.data))
			if cfg.Cluster != nil {
				fmt.Fprintf(w, "cluster  %s %s  (routes %s)\n", cfg.Cluster.Name, f.cluster, strings.Join(f.routes, ","))
			}
			if f.monitor != "" {
				fmt.Fprintf(w, "monitor  http://%s  (/varz /jsz /healthz)\n", f.monitor)
			}
			fmt.Fprintf(w, "sync     %s\n", syncNote(f.sync, ns))
			g.log.Info().Str("server", f.name).Str("url", ns.ClientURL()).Msg("NATS is up")
			<-cmd.Context().Done()
			g.log.Info().Str("server", f.name).Msg("NATS shutting down")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "twin", "server name, unique within the cluster; the store is <data>/nats-<name>")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:4222", "client address")
	fl.StringVar(&f.monitor, "monitor", "", "address of nats-server's HTTP monitoring (/varz, /jsz, /healthz), e.g. for KEDA's nats-jetstream scaler (default none)")
	fl.StringVar(&f.cluster, "cluster", "", "route address host:port: makes this server a cluster member")
	fl.StringVar(&f.clusterName, "cluster-name", "twin", "the cluster's name, the same on every member")
	fl.StringSliceVar(&f.routes, "routes", nil, "nats://host:port of the other members' route addresses, comma-separated")
	f.maxMemory, f.maxStore = 1<<30, 10<<30
	fl.Var(&f.maxMemory, "nats-max-memory", "most memory JetStream may use")
	fl.Var(&f.maxStore, "nats-max-store", "most disk JetStream may use")
	fl.Var(&f.sync, "sync", "when the store reaches the disk: always (every message before its ack), warehouse or interval (about every second)")
	return cmd
}
