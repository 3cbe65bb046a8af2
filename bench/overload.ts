/**
 * Overload when PostgreSQL is the bottleneck (issue 14): `ab -c 1000` and `-c 5000` on
 * `GET /tasks/?size=100` (200 tasks with tags and assignees), with the pool's bounds as configured
 * (DATABASE_POOL_WAIT_MS / DATABASE_POOL_QUEUE defaults) and with them off (the behaviour before: an
 * unbounded queue and a 5 s connect timeout). Reports throughput, answers by status, the p99 of SERVED
 * (2xx) requests — an upper bound read from ab's per-request times (-g): the 503s are the fast ones, so
 * the k-th slowest of all requests bounds the k-th slowest served one — and the server's peak RSS.
 *
 *   npx tsx bench/overload.ts            # prints a Markdown table for BENCHMARKS.md
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureAb } from './ab.ts';
import { benchPostgres, machineDescription } from './harness.ts';
import { addTags, addTasks, addUsers, registerCompany } from './seed.ts';
import { buildProduction, type RunningServer, startServer } from './server-process.ts';

const run = promisify(execFile);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

interface Outcome {
  command: string;
  rps: number;
  completed: number;
  non2xx: number;
  failed: number;
  servedP99: number;
  peakRss: number;
}

async function load(
  server: RunningServer,
  headers: Record<string, string>,
  concurrency: number,
  requests: number,
  folder: string,
): Promise<Outcome> {
  const gnuplot = path.join(folder, `ab-${concurrency}.tsv`);
  // -r: a reset connection (the listen backlog overflowing at thousands of connects) is counted, not fatal.
  const args = ['-r', '-s', '60', '-c', String(concurrency), '-n', String(requests), '-g', gnuplot];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(`${server.base}/tasks/?size=100`);
  let peakRss = await rssMb(server.pid);
  const sampler = setInterval(() => {
    void rssMb(server.pid).then((mb) => {
      peakRss = Math.max(peakRss, mb);
    });
  }, 100);
  const { stdout } = await run('ab', args, { maxBuffer: 8 * 1024 * 1024, timeout: 300_000 }).finally(() =>
    clearInterval(sampler),
  );
  const figure = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? 0);
  const completed = figure(/Complete requests:\s+(\d+)/);
  const non2xx = figure(/Non-2xx responses:\s+(\d+)/);
  const times = (await readFile(gnuplot, 'utf8'))
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split('\t')[4]))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => b - a);
  const served = completed - non2xx;
  const servedP99 = times[Math.max(0, Math.ceil(served / 100) - 1)] ?? 0;
  const shownArgs = args.map((arg) =>
    arg.replace(/Bearer [\w-]+/, 'Bearer TOKEN').replace(/tenant: \w+/, 'tenant: TENANT'),
  );
  return {
    command: `ab ${shownArgs
      .filter((arg) => arg !== gnuplot && arg !== '-g')
      .map((a) => (/\s/.test(a) ? `'${a}'` : a))
      .join(' ')}`,
    rps: figure(/Requests per second:\s+([\d.]+)/),
    completed,
    non2xx,
    failed: figure(/Failed requests:\s+(\d+)/),
    servedP99,
    peakRss,
  };
}

async function main() {
  ensureAb();
  // OVERLOAD_NO_BUILD=1 reuses dist/ (already built from this checkout).
  if (!process.env.OVERLOAD_NO_BUILD) buildProduction();
  const pg = await benchPostgres();
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-overload-'));
  const rows: string[] = [];
  try {
    for (const [label, env] of [
      [
        'bounds off (before: unbounded queue, 5 s wait)',
        { DATABASE_POOL_WAIT_MS: '5000', DATABASE_POOL_QUEUE: '100000' },
      ],
      ['defaults (500 ms wait, queue 50)', {}],
    ] as const) {
      const server = await startServer({
        databaseUrl: pg.socketUrl,
        dataDir: folder,
        adminToken: 'bench-admin-token-0123456789',
        webConcurrency: 1,
        logFile: path.join(folder, 'server.log'),
        env,
      });
      try {
        const company = await registerCompany(server.base, folder, `overload${rows.length}`);
        await addUsers(server.base, company, `overload${rows.length}`, 5);
        await addTags(server.base, company, 5);
        await addTasks(server.base, company, 200);
        const headers = { tenant: company.tenant, authorization: `Bearer ${company.token}` };
        for (const [concurrency, requests] of [
          [1000, 10_000],
          [5000, 20_000],
        ] as const) {
          const outcome = await load(server, headers, concurrency, requests, folder);
          const line = `| ${label} | ${concurrency} | ${outcome.rps} | ${outcome.completed - outcome.non2xx} / ${outcome.non2xx} / ${outcome.failed} | ≤ ${outcome.servedP99} ms | ${Math.round(outcome.peakRss)} MB | load ${loadavg()[0]?.toFixed(1)} |`;
          console.log(line);
          console.log(`    ${outcome.command}`);
          rows.push(line);
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
      } finally {
        await server.stop();
      }
    }
    console.log(`\n${machineDescription()}\n`);
    console.log(
      '| pool bounds | -c | requests/s | 2xx / non-2xx (503) / failed | p99 of served | peak RSS | |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    await pg.cleanup();
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
