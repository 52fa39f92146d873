package fetch

import (
	"errors"
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want addrClass
	}{
		// IPv4.
		{"8.8.8.8", classPublic},
		{"93.184.216.34", classPublic},
		{"1.1.1.1", classPublic},
		{"0.0.0.0", classUnspecified},
		{"0.1.2.3", classUnspecified},
		{"127.0.0.1", classLoopback},
		{"127.255.255.254", classLoopback},
		{"10.0.0.1", classPrivate},
		{"10.255.255.255", classPrivate},
		{"172.16.0.1", classPrivate},
		{"172.31.255.255", classPrivate},
		{"172.32.0.1", classPublic},
		{"172.15.255.255", classPublic},
		{"192.168.1.1", classPrivate},
		{"169.254.1.1", classLinkLocal},
		{"169.254.169.254", classMetadata},
		{"169.254.170.2", classMetadata},
		{"100.100.100.200", classMetadata},
		{"100.64.0.1", classSharedCGNAT},
		{"100.127.255.255", classSharedCGNAT},
		{"100.128.0.1", classPublic},
		{"192.0.0.8", classReserved},
		{"192.0.2.1", classReserved},
		{"198.18.0.1", classReserved},
		{"198.51.100.7", classReserved},
		{"203.0.113.9", classReserved},
		{"224.0.0.1", classMulticast},
		{"239.255.255.250", classMulticast},
		{"240.0.0.1", classReserved},
		{"255.255.255.255", classBroadcast},

		// IPv6.
		{"2606:4700:4700::1111", classPublic},
		{"2a00:1450:4001:80b::200e", classPublic},
		{"::", classUnspecified},
		{"::1", classLoopback},
		{"fc00::1", classPrivate},
		{"fd12:3456::1", classPrivate},
		{"fd00:ec2::254", classMetadata},
		{"fe80::1", classLinkLocal},
		{"fe80::1%eth0", classLinkLocal},
		{"febf::1", classLinkLocal},
		{"fec0::1", classPrivate},
		{"ff02::1", classMulticast},
		{"2001:db8::1", classReserved},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", classReserved}, // Teredo
		{"100::1", classReserved},

		// IPv4 inside IPv6: judged by the IPv4 address.
		{"::ffff:127.0.0.1", classLoopback},
		{"::ffff:7f00:1", classLoopback},
		{"::ffff:10.1.2.3", classPrivate},
		{"::ffff:169.254.169.254", classMetadata},
		{"::ffff:100.100.100.200", classMetadata},
		{"::ffff:100.64.1.1", classSharedCGNAT},
		{"::ffff:0.0.0.0", classUnspecified},
		{"::ffff:224.0.0.1", classMulticast},
		{"::ffff:255.255.255.255", classBroadcast},
		{"::ffff:8.8.8.8", classPublic},
		{"64:ff9b::127.0.0.1", classLoopback}, // NAT64
		{"64:ff9b::169.254.169.254", classMetadata},
		{"64:ff9b::8.8.8.8", classPublic},
		{"64:ff9b:1::1", classPrivate},
		{"::127.0.0.1", classLoopback}, // IPv4-compatible
		{"::10.0.0.1", classPrivate},
		{"::8.8.8.8", classReserved},
		{"2002:7f00:1::1", classLoopback}, // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", classMetadata},
		{"2002:0808:0808::1", classPublic},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := classify(ip); got != tc.want {
			t.Errorf("classify(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

func TestPermitAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip           string
		allowPrivate bool
		allowed      bool
	}{
		{"8.8.8.8", false, true},
		{"127.0.0.1", false, false},
		{"::1", false, false},
		{"10.0.0.1", false, false},
		{"::ffff:192.168.0.1", false, false},
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"10.0.0.1", true, true},
		{"fe80::1", true, true},
		// Cloud metadata stays refused even when private addresses are allowed.
		{"169.254.169.254", true, false},
		{"::ffff:169.254.169.254", true, false},
		{"fd00:ec2::254", true, false},
		{"100.100.100.200", true, false},
	} {
		err := permitAddr(netip.MustParseAddr(tc.ip), tc.allowPrivate)
		if tc.allowed && err != nil {
			t.Errorf("permitAddr(%s, allowPrivate=%v) = %v, want allowed", tc.ip, tc.allowPrivate, err)
		}
		if !tc.allowed && !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("permitAddr(%s, allowPrivate=%v) = %v, want ErrBlockedAddress", tc.ip, tc.allowPrivate, err)
		}
	}
}

// FuzzClassify feeds arbitrary bytes as addresses: classify must not panic,
// and an IPv4-mapped IPv6 address must be judged like its IPv4 address.
func FuzzClassify(f *testing.F) {
	for _, seed := range [][]byte{
		{127, 0, 0, 1}, {169, 254, 169, 254}, {8, 8, 8, 8}, {},
		netip.MustParseAddr("::ffff:10.0.0.1").AsSlice(),
		netip.MustParseAddr("64:ff9b::a9fe:a9fe").AsSlice(),
		netip.MustParseAddr("2002:7f00:1::1").AsSlice(),
		netip.MustParseAddr("fe80::1").AsSlice(),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		c := classify(ip) // also the invalid zero Addr when !ok
		_ = c.String()
		_ = permitAddr(ip, false)
		if !ok || !ip.Is4() {
			return
		}
		if mapped := netip.AddrFrom16(ip.As16()); classify(mapped) != c {
			t.Fatalf("classify(%s) = %s but classify(%s) = %s", ip, c, mapped, classify(mapped))
		}
	})
}
