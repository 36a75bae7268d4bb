/**
 * Where Baton's outbound HTTP may go (webhook deliveries, agents' calls). The URL is chosen by a user, but the request
 * leaves from our network: without a policy, a URL could reach the cloud metadata service, the database or any
 * internal service (server-side request forgery). Unless the caller's setting allows private networks, only public
 * unicast addresses are allowed, checked on the addresses a request actually connects to: a lookup made by
 * `createGuardedLookup` resolves the host once and hands the socket only checked addresses, so a DNS answer cannot
 * change between the check and the connect.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Two lists: a BlockList holding the IPv4-mapped range (::ffff:0:0/96) would match every IPv4 address checked against it.
const NON_PUBLIC_V4 = new BlockList();
const NON_PUBLIC_V6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  NON_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96], // IPv4-mapped: would smuggle any IPv4 address past the list above
  ['64:ff9b::', 96], // NAT64, the same
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  NON_PUBLIC_V6.addSubnet(network, prefix, 'ipv6');

/** Why an address may not be connected to, or null when it may. Anything that is not an IP address may not. */
export function nonPublicAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const listed = family === 4 ? NON_PUBLIC_V4.check(address, 'ipv4') : NON_PUBLIC_V6.check(address, 'ipv6');
  return listed ? `${address} is not a public address` : null;
}

/** A URL host (as URL.hostname gives it) that is refused without resolving it: a non-public IP literal or localhost. */
export function nonPublicHost(hostname: string): string | null {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIP(host) !== 0) return nonPublicAddress(host);
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') ? `${hostname} is this machine` : null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** How a caller words a refusal: the error's message and code (e.g. EWEBHOOKADDRESS). */
export type RefusalWording = (hostname: string, reason: string) => { message: string; code: string };

/**
 * A `lookup` for http.request/net.connect that resolves like dns.lookup but refuses, with the caller's error, a host
 * any of whose addresses is not public (all of them are checked, since the socket may try each).
 */
export function createGuardedLookup(refusal: RefusalWording) {
  return function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.map((a) => nonPublicAddress(a.address)).find((reason) => reason !== null);
      if (refused) {
        const { message, code } = refusal(hostname, `${hostname} resolves to ${refused}`);
        const denied: NodeJS.ErrnoException = new Error(message);
        denied.code = code;
        return callback(denied, []);
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
