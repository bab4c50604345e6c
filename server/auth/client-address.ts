/**
 * The client's address for throttling and the audit log. Behind a reverse
 * proxy every request comes from the proxy, so one attacker would throttle
 * everyone; TRUSTED_PROXIES names the proxies whose X-Forwarded-For is
 * believed. The header is read right to left (each proxy appends the address
 * it saw) and the first address that is not a trusted proxy is the client, as
 * Express's proxy-addr does. Without TRUSTED_PROXIES the header is ignored:
 * anyone can write it.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8` → true when well-formed. */
export function isAddressOrCidr(text: string): boolean {
  const [addr, prefix, ...rest] = text.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    this.size = entries.length;
    for (const e of entries) {
      const [addr, prefix] = e.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(prefix), type);
    }
  }

  trusts(address: string): boolean {
    if (this.size === 0) return false;
    const a = unmapped(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The address a request comes from: the socket's, or X-Forwarded-For's first untrusted hop when the socket is a trusted proxy. */
  clientAddress(req: IncomingMessage): string {
    const peer = unmapped(req.socket.remoteAddress ?? 'unknown');
    if (!this.trusts(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const text = Array.isArray(header) ? header.join(',') : (header ?? '');
    // Node caps headers at 16 KB; only the nearest 64 hops are looked at
    const hops = text
      .split(',')
      .slice(-64)
      .map((h) => unmapped(h.trim()))
      .filter((h) => isIP(h) !== 0);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      client = hops[i];
      if (!this.trusts(client)) break;
    }
    return client;
  }
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
