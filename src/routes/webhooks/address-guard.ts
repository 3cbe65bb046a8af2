/**
 * Webhooks may not reach loopback, private, link-local or otherwise internal addresses (SSRF): the
 * check runs on the DNS answers, at creation and again at every delivery — through the `lookup` of the
 * very connection that sends, so a name that resolves to a public address when checked and to
 * 127.0.0.1 a moment later (DNS rebinding) connects nowhere. WEBHOOK_ALLOW_PRIVATE=true turns it off.
 */
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** True for an address a webhook must not reach (IPv4-mapped IPv6 judged as its IPv4). */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return blocked.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

/** Every address `hostname` resolves to; refused when one of them is internal (unless allowed). */
export async function checkedAddresses(hostname: string, allowPrivate: boolean): Promise<LookupAddress[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const answers = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await dnsLookup(bare, { all: true });
  if (answers.length === 0) throw new RefusedAddressError(`${hostname} does not resolve`);
  if (!allowPrivate) {
    const internal = answers.find((answer) => isInternalAddress(answer.address));
    if (internal) {
      throw new RefusedAddressError(`${hostname} resolves to ${internal.address}, an internal address`);
    }
  }
  return answers;
}
