/**
 * What routing by Host (issue 21) adds to every tenant request before any database work: reading the
 * request's host name into a domain (src/tenancy/domain-name.ts) — parsed once per distinct host name
 * and then memoised by DomainCache — measured in-process, median of 5 runs of 1,000,000 calls.
 *
 *   npx tsx bench/host-routing.ts
 */
import { setBounded } from '../src/db/hosts.ts';
import { hostDomain } from '../src/tenancy/domain-name.ts';

const memo = new Map<string, string | null>();
/** As DomainCache.tenantOfHost does it (null, "not a domain", is remembered too). */
function memoised(host: string): string | null {
  const known = memo.get(host);
  return known === undefined ? setBounded(memo, host, hostDomain(host), 1_000) : known;
}
const CALLS = 1_000_000;

function median(fn: (host: string) => unknown, host: string): number {
  for (let i = 0; i < 100_000; i++) fn(host);
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) fn(host);
    runs.push(Number(process.hrtime.bigint() - started) / CALLS);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

for (const host of ['127.0.0.1', 'localhost', 'acme.tasks.example.com', 'Bäckerei.example.com']) {
  console.log(
    `${host.padEnd(24)} parse ${median(hostDomain, host).toFixed(0).padStart(6)} ns   memoised ${median(memoised, host).toFixed(0).padStart(4)} ns`,
  );
}
