/**
 * What sending each revision as one query saves (issue 13): tenant creation (schema + every tenant
 * revision, one transaction) with the real revisions (SQL text: one query per revision) against the same
 * revisions written statement by statement (bench/fixtures/statement-revisions), alternating, on loopback
 * and through a TCP proxy on 127.0.0.1 that delays every chunk by `--delay` ms each way (a simulated
 * round trip of 2 × delay).
 *
 *   npx tsx bench/revision-bodies.ts [--rounds 3] [--per-round 20] [--delay 0.5]
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadMigrationSet } from '../src/migrations/migration-set.ts';
import { MigrationRunner } from '../src/migrations/runner.ts';
import { benchPostgres, median } from './harness.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'per-round': { type: 'string', default: '20' },
    delay: { type: 'string', default: '0.5' },
  },
});
const rounds = Number(values.rounds);
const perRound = Number(values['per-round']);
const delayMs = Number(values.delay);

/** Forwards 127.0.0.1:<port> to `target`, holding every chunk `delay` ms in each direction, in order. */
async function delayProxy(targetPort: number, delay: number): Promise<{ port: number; server: Server }> {
  const pipe = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      setTimeout(() => to.write(chunk), delay);
    });
    from.on('close', () => setTimeout(() => to.destroy(), delay));
    from.on('error', () => to.destroy());
  };
  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');
  return { port: address.port, server };
}

const postgres = await benchPostgres();
const proxy = await delayProxy(Number(new URL(postgres.url).port), delayMs);
const text = new MigrationRunner(await loadMigrationSet('tenant'));
const statements = new MigrationRunner(
  await loadMigrationSet(
    'tenant',
    fileURLToPath(new URL('./fixtures/statement-revisions/', import.meta.url)),
  ),
);

/** Queries sent (each one round trip), counted through Kysely's log hook. */
let queries = 0;
function kysely(url: string) {
  return new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
    log: () => {
      queries += 1;
    },
  });
}
const delayedUrl = new URL(postgres.url);
delayedUrl.port = String(proxy.port);
const links = {
  loopback: kysely(postgres.url),
  [`+${2 * delayMs} ms round trip`]: kysely(delayedUrl.toString()),
};

try {
  // pg_trgm, which the tenant revisions use, comes with the public revisions.
  await new MigrationRunner(await loadMigrationSet('public')).upgrade({
    host: 'default',
    db: links.loopback,
    schema: 'public',
  });
  for (const [link, db] of Object.entries(links)) {
    const times = { text: [] as number[], statements: [] as number[] };
    const trips = { text: 0, statements: 0 };
    for (let round = 0; round < rounds; round++) {
      for (const [kind, runner] of [
        ['text', text],
        ['statements', statements],
      ] as const) {
        for (let i = 0; i < perRound; i++) {
          const schema = `bench_${randomBytes(5).toString('hex')}`;
          const began = performance.now();
          const sent = queries;
          await runner.upgrade({ host: 'default', db, schema }, { mustBeNew: true });
          times[kind].push(performance.now() - began);
          trips[kind] = queries - sent;
        }
      }
    }
    const p50 = (list: number[]) => median(list).toFixed(1);
    console.log(
      `${link}: creation p50 — one query per revision ${p50(times.text)} ms (${trips.text} round trips), statement by statement ${p50(times.statements)} ms (${trips.statements} round trips) (${rounds} × ${perRound} each, alternating)`,
    );
  }
} finally {
  for (const db of Object.values(links)) await db.destroy();
  proxy.server.close();
  await postgres.cleanup();
}
