import type { LookupAddress } from 'node:dns';
import { createGuardedLookup, nonPublicAddress, nonPublicHost } from './address-policy.js';

const guardedLookup = createGuardedLookup((_host, reason) => ({ message: `refused: ${reason}`, code: 'ETESTADDRESS' }));

describe('outbound address policy', () => {
  it('refuses loopback, private, link-local, CGNAT, multicast and reserved IPv4 addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '127.1.2.3',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
    ])
      expect([ip, nonPublicAddress(ip)]).toEqual([ip, expect.stringMatching(/not a public address/)]);
  });

  it('refuses the IPv6 equivalents, and IPv4 smuggled in IPv4-mapped or NAT64 addresses', () => {
    for (const ip of [
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::7f00:1',
    ])
      expect([ip, nonPublicAddress(ip)]).toEqual([ip, expect.stringMatching(/not a public address/)]);
  });

  it('allows public unicast addresses', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111'])
      expect([ip, nonPublicAddress(ip)]).toEqual([ip, null]);
  });

  it('judges URL hosts that need no resolving: IP literals (also bracketed IPv6) and localhost', () => {
    expect(nonPublicHost('127.0.0.1')).toMatch(/not a public/);
    expect(nonPublicHost('[::1]')).toMatch(/not a public/);
    expect(nonPublicHost('localhost')).toMatch(/this machine/);
    expect(nonPublicHost('api.localhost.')).toMatch(/this machine/);
    expect(nonPublicHost('hooks.example.com')).toBeNull();
    expect(nonPublicHost('93.184.215.14')).toBeNull();
  });

  it('refuses, at connect time, a host name that resolves to a loopback address', async () => {
    const result = await new Promise<{ error: NodeJS.ErrnoException | null; addresses: string | LookupAddress[] }>((resolve) =>
      guardedLookup('localhost', { all: true }, (error, addresses) => resolve({ error, addresses })),
    );
    expect(result.error).toMatchObject({
      code: 'ETESTADDRESS',
      message: expect.stringMatching(/localhost resolves to .* not a public address/),
    });
    expect(result.addresses).toEqual([]);
  });
});
