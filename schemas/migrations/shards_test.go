package migrations

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
)

// TestClusterServersAddresses: ClusterServers gives each server as the
// cluster's configuration names it, host and port joined as a dialer
// expects them (an IPv6 address in brackets), by shard and replica. The
// resolved address (host_address) is not a name a TLS certificate can
// match, and an IPv6 address joined with ":port" is no address at all;
// but a name that does not resolve where the runner is (only the
// cluster's own network knows it) gives the address the server resolved.
// (An internal test: it makes a name unresolvable through lookupHost.)
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
	conn, err := chconn.Open(ctx, srv.Config("default"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resolve := lookupHost
	defer func() { lookupHost = resolve }()
	for _, tc := range []struct {
		name       string
		unresolved string // a host name lookupHost fails on
		want       [][]string
	}{
		{"names", "", [][]string{{"localhost:9440", "[::1]:9000"}, {"127.0.0.1:9001"}}},
		{"a name unknown here", "localhost", [][]string{{"127.0.0.1:9440", "[::1]:9000"}, {"127.0.0.1:9001"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookupHost = func(ctx context.Context, host string) ([]string, error) {
				if host == tc.unresolved {
					return nil, errors.New("no such host")
				}
				return resolve(ctx, host)
			}
			got, err := ClusterServers(ctx, conn, "named")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("ClusterServers = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ClusterServers(ctx, conn, "missing"); err == nil {
		t.Error("ClusterServers of a cluster the server does not know: no error")
	}
}
