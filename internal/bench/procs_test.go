package bench

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddrsAreBelowTheEphemeralRange(t *testing.T) {
	t.Parallel()
	addrs, err := FreeAddrs(20)
	if err != nil {
		t.Fatal(err)
	}
	low := ephemeralLow()
	seen := map[string]bool{}
	for _, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < 1024 || port >= low || seen[a] {
			t.Errorf("port %d: want distinct ports in [1024, %d)", port, low)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s is not free: %v", a, err)
			continue
		}
		l.Close()
	}
}
