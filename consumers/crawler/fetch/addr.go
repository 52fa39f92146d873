package fetch

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// addrClass says what kind of address an IP is, for the dial-time check.
type addrClass int

const (
	classPublic addrClass = iota
	classUnspecified
	classLoopback
	classPrivate
	classLinkLocal
	classMetadata
	classSharedCGNAT
	classMulticast
	classBroadcast
	classReserved
)

func (c addrClass) String() string {
	switch c {
	case classPublic:
		return "public"
	case classUnspecified:
		return "unspecified"
	case classLoopback:
		return "loopback"
	case classPrivate:
		return "private"
	case classLinkLocal:
		return "link-local"
	case classMetadata:
		return "cloud metadata"
	case classSharedCGNAT:
		return "shared (CGNAT)"
	case classMulticast:
		return "multicast"
	case classBroadcast:
		return "broadcast"
	default:
		return "reserved"
	}
}

// metadataAddrs are the instance-metadata endpoints of the big clouds. They
// hand out credentials, so they stay refused even with AllowPrivate: an
// operator allowing intranet crawling does not mean to expose them.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OpenStack, Oracle...
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task metadata
	netip.MustParseAddr("169.254.170.23"):  true, // AWS EKS pod identity
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS over IPv6
	netip.MustParseAddr("fd00:ec2::23"):    true, // AWS EKS pod identity over IPv6
}

// addrRanges are the non-public IP ranges (IANA special-purpose registries).
// The first match wins, so more specific prefixes come first.
var addrRanges = []struct {
	prefix netip.Prefix
	class  addrClass
}{
	{netip.MustParsePrefix("255.255.255.255/32"), classBroadcast},
	{netip.MustParsePrefix("0.0.0.0/8"), classUnspecified}, // "this network"; 0.0.0.0 reaches the local host
	{netip.MustParsePrefix("10.0.0.0/8"), classPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), classSharedCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), classLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), classLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), classPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), classReserved},   // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), classReserved},   // documentation
	{netip.MustParsePrefix("192.88.99.0/24"), classReserved}, // 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), classPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), classReserved}, // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), classReserved},
	{netip.MustParsePrefix("203.0.113.0/24"), classReserved},
	{netip.MustParsePrefix("224.0.0.0/4"), classMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), classReserved},

	{netip.MustParsePrefix("::/128"), classUnspecified},
	{netip.MustParsePrefix("::1/128"), classLoopback},
	{netip.MustParsePrefix("64:ff9b:1::/48"), classPrivate}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), classReserved},      // discard-only
	{netip.MustParsePrefix("2001::/32"), classReserved},     // Teredo: hides an IPv4 address
	{netip.MustParsePrefix("2001:10::/28"), classReserved},  // ORCHID
	{netip.MustParsePrefix("2001:20::/28"), classReserved},  // ORCHIDv2
	{netip.MustParsePrefix("2001:db8::/32"), classReserved}, // documentation
	{netip.MustParsePrefix("3fff::/20"), classReserved},     // documentation
	{netip.MustParsePrefix("fc00::/7"), classPrivate},       // unique local
	{netip.MustParsePrefix("fe80::/10"), classLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), classPrivate}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), classMulticast},
}

// Prefixes of IPv6 forms that embed an IPv4 address in their last or second
// to fourth bytes: the embedded address decides.
var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64
	v4CompatPfx  = netip.MustParsePrefix("::/96")        // deprecated IPv4-compatible
	sixToFourPfx = netip.MustParsePrefix("2002::/16")    // 6to4
)

// classify says what kind of address ip is. IPv4-mapped (::ffff:a.b.c.d),
// NAT64, IPv4-compatible and 6to4 IPv6 addresses are judged by the IPv4
// address they carry, since that is where the packets end up.
func classify(ip netip.Addr) addrClass {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return classReserved
	}
	if ip.Is4In6() {
		return classify(ip.Unmap())
	}
	if metadataAddrs[ip] {
		return classMetadata
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case ip == netip.IPv6Unspecified():
			return classUnspecified
		case ip == netip.IPv6Loopback():
			return classLoopback
		case nat64Prefix.Contains(ip):
			return classify(netip.AddrFrom4([4]byte(b[12:16])))
		case v4CompatPfx.Contains(ip):
			if c := classify(netip.AddrFrom4([4]byte(b[12:16]))); c != classPublic {
				return c
			}
			return classReserved // deprecated form, nothing public answers on it
		case sixToFourPfx.Contains(ip):
			if c := classify(netip.AddrFrom4([4]byte(b[2:6]))); c != classPublic {
				return c
			}
		}
	}
	for _, r := range addrRanges {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	return classPublic
}

// permitAddr is the address policy: public addresses only, or, with
// allowPrivate, anything but cloud metadata endpoints.
func permitAddr(ip netip.Addr, allowPrivate bool) error {
	c := classify(ip)
	if c == classPublic || allowPrivate && c != classMetadata {
		return nil
	}
	return fmt.Errorf("%w: %s is a %s address", ErrBlockedAddress, ip.WithZone(""), c)
}

// dialContext resolves the host itself, checks every address it resolves to,
// and dials only checked addresses. Because the check and the dial use the
// same resolved IP, neither a redirect nor DNS rebinding (a name answering
// with a public address to a check and a private one to the dial) can reach
// a refused address.
func (f *Fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q: %w", addr, err)
	}

	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := f.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, a := range found {
			// net.IP holds IPv4 addresses in 16 bytes; dial them as IPv4.
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				ips = append(ips, ip.Unmap().WithZone(a.Zone))
			}
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}

	// A name is refused if any of its addresses is: a name that points into a
	// private network is not a public page, and dialing only its public
	// addresses would make the outcome depend on the resolver's order.
	targets := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		targets[i] = netip.AddrPortFrom(ip, uint16(port))
		if err := f.permit(targets[i]); err != nil {
			return nil, fmt.Errorf("dial %s: %w", host, err)
		}
	}
	var firstErr error
	for _, t := range targets {
		conn, err := f.dialer.DialContext(ctx, network, t.String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// controlDial runs on the socket just before connect. dialContext only dials
// addresses it has checked, so this is a second lock on the same door: it
// keeps the policy even if a future change dials a name directly.
func (f *Fetcher) controlDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check %q: %v", ErrBlockedAddress, address, err)
	}
	return f.permit(ap)
}
