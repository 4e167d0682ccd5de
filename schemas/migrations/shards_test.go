package migrations_test

import (
	"context"
	"slices"
	"testing"

	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestClusterServersAddresses: ClusterServers gives each server as the
// cluster's configuration names it, host and port joined as a dialer
// expects them (an IPv6 address in brackets), by shard and replica. The
// resolved address (host_address) is not a name a TLS certificate can
// match, and an IPv6 address joined with ":port" is no address at all.
func TestClusterServersAddresses(t *testing.T) {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{ExtraConfig: `<remote_servers><named>
<shard><replica><host>localhost</host><port>9440</port></replica><replica><host>::1</host><port>9000</port></replica></shard>
<shard><replica><host>127.0.0.1</host><port>9001</port></replica></shard>
</named></remote_servers>`})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn := open(t, srv.Config("default"))
	got, err := migrations.ClusterServers(ctx, conn, "named")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"localhost:9440", "[::1]:9000"}, {"127.0.0.1:9001"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ClusterServers = %q, want %q", got, want)
	}
	if _, err := migrations.ClusterServers(ctx, conn, "missing"); err == nil {
		t.Error("ClusterServers of a cluster the server does not know: no error")
	}
}
