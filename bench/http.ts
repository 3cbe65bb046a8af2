/**
 * HTTP benchmarks (SPEC 10): the production build (`node dist/src/server.js`, NODE_ENV=production,
 * LOG_LEVEL=warn) on a throw-away embedded PostgreSQL, seeded over HTTP (bench/seed.ts), each route's
 * sample answer checked against its documented schema, warmed up, then measured with `ab` on loopback —
 * with WEB_CONCURRENCY=1 and =2. Every figure is the median of several runs, with min and max.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pgDriver from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openCore } from '../src/core.ts';
import { type AbOptions, type AbResult, ab, abCommand, ensureAb } from './ab.ts';
import { type CapturedStatement, pgbenchScript, routeStatements, runPgbench } from './ceiling.ts';
import { postmasterPid, treeCpuMs } from './cpu-usage.ts';
import {
  benchPostgres,
  type Measurement,
  machineDescription,
  median,
  saveSection,
  summarise,
} from './harness.ts';
import { measureLogin } from './login.ts';
import { ResponseChecker } from './response-check.ts';
import {
  addTags,
  addTasks,
  addUsers,
  call,
  PASSWORD,
  registerCompany,
  type SeededCompany,
  taskBody,
} from './seed.ts';
import { buildProduction, type RunningServer, startServer } from './server-process.ts';

export const ADMIN_TOKEN = 'bench-control-center-token-0123456789';

interface Case {
  key: string;
  label: string;
  /** Route as documented in /docs/json, for the schema check. */
  method: 'GET' | 'POST';
  docPath: string;
  status: number;
  ab: (base: string) => AbOptions;
  target?: { text: string; ok: (rps: number) => boolean };
  /** Extra checks of the sample answer beyond the schema (the seeded data is what we measure). */
  expect: (body: unknown) => string | undefined;
}

/** The figures `uptime` prints: the machine is shared, so every measurement says how busy it was. */
export function loadAverage(): string {
  const [one = 0, five = 0] = loadavg();
  return `load average ${one.toFixed(2)} (1 min), ${five.toFixed(2)} (5 min)`;
}

function page(body: unknown): { items: unknown[]; total: number } {
  const value = body as { items?: unknown; total?: unknown };
  return { items: Array.isArray(value.items) ? value.items : [], total: Number(value.total) };
}

function cases(
  small: SeededCompany,
  large: SeededCompany,
  postFile: string,
  requests: number,
  seconds: number,
): Case[] {
  const auth = (company: SeededCompany) => ({
    tenant: company.tenant,
    Authorization: `Bearer ${company.token}`,
  });
  const taskUuid = large.tasks[0] ?? '';
  return [
    {
      key: 'users-2',
      label: 'GET /users/, tenant with 2 users',
      method: 'GET',
      docPath: '/users/',
      status: 200,
      // The predecessor's own load test, unchanged: ab -k -c 40 -n 5000 with both headers.
      ab: (base) => ({ url: `${base}/users/`, requests: 5000, concurrency: 40, headers: auth(small) }),
      target: { text: '≥ 6,500 req/s', ok: (rps) => rps >= 6500 },
      expect: (body) =>
        page(body).items.length === 2 && page(body).total === 2 ? undefined : 'expected 2 users',
    },
    {
      key: 'users-50',
      label: 'GET /users/, full page of 50 users',
      method: 'GET',
      docPath: '/users/',
      status: 200,
      ab: (base) => ({ url: `${base}/users/`, requests, seconds, concurrency: 40, headers: auth(large) }),
      target: { text: '≥ 4,000 req/s', ok: (rps) => rps >= 4000 },
      expect: (body) => (page(body).items.length === 50 ? undefined : 'expected a page of 50 users'),
    },
    {
      key: 'tasks-list',
      label: 'GET /tasks/?status=todo&sort=due_at, page of 50 with tags and assignees',
      method: 'GET',
      docPath: '/tasks/',
      status: 200,
      ab: (base) => ({
        url: `${base}/tasks/?status=todo&sort=due_at`,
        requests,
        seconds,
        concurrency: 40,
        headers: auth(large),
      }),
      target: { text: '≥ 4,000 req/s', ok: (rps) => rps >= 4000 },
      expect: (body) => {
        const items = page(body).items as Array<{ status: string; tags: unknown[]; assignees: unknown[] }>;
        if (items.length !== 50) return 'expected a page of 50 tasks';
        if (items.some((task) => task.status !== 'todo' || !task.tags.length || !task.assignees.length))
          return 'expected todo tasks, each with tags and assignees';
        return undefined;
      },
    },
    {
      key: 'task-get',
      label: 'GET /tasks/{uuid}',
      method: 'GET',
      docPath: '/tasks/{uuid}',
      status: 200,
      ab: (base) => ({
        url: `${base}/tasks/${taskUuid}`,
        requests,
        seconds,
        concurrency: 40,
        headers: auth(large),
      }),
      expect: (body) =>
        (body as { uuid?: string }).uuid === taskUuid ? undefined : 'expected the seeded task',
    },
    {
      key: 'task-post',
      label: 'POST /tasks/ (two tags, two assignees)',
      method: 'POST',
      docPath: '/tasks/',
      status: 201,
      ab: (base) => ({
        url: `${base}/tasks/`,
        requests,
        seconds,
        concurrency: 40,
        headers: auth(small),
        postFile,
        variableLength: true,
      }),
      target: { text: '≥ 2,500 req/s', ok: (rps) => rps >= 2500 },
      expect: (body) => {
        const task = body as { tags?: unknown[]; assignees?: unknown[] };
        return task.tags?.length === 2 && task.assignees?.length === 2
          ? undefined
          : 'expected 2 tags, 2 assignees';
      },
    },
  ];
}

/** One sample answer per case, checked against /docs/json and the seeded data; returns its size. */
async function checkSamples(base: string, list: Case[], postBody: unknown): Promise<Map<string, number>> {
  const openapi = (await call(base, 'GET', '/docs/json')).json as Record<string, unknown>;
  const checker = new ResponseChecker(openapi);
  const sizes = new Map<string, number>();
  for (const item of list) {
    const options = item.ab(base);
    const url = options.url.slice(base.length);
    const answer = await call(base, item.method, url, {
      tenant: options.headers?.tenant,
      token: options.headers?.Authorization?.replace('Bearer ', ''),
      body: item.method === 'POST' ? postBody : undefined,
      expect: item.status,
    });
    checker.check(item.method, item.docPath, item.status, answer.json);
    const problem = item.expect(answer.json);
    if (problem) throw new Error(`${item.method} ${url}: ${problem}: ${answer.text.slice(0, 300)}`);
    sizes.set(item.key, Buffer.byteLength(answer.text));
  }
  return sizes;
}

interface CaseResult {
  runs: AbResult[];
  /** CPU µs per request of each run: the server's processes, the PostgreSQL processes. */
  serverUs: number[];
  postgresUs: number[];
}

async function measure(
  server: RunningServer,
  postgresPid: number,
  list: Case[],
  runs: number,
  warmup: number,
  settleDatabase: () => Promise<void>,
) {
  const results = new Map<string, CaseResult>();
  for (const item of list) {
    const options = item.ab(server.base);
    await ab({ ...options, requests: warmup, seconds: Math.min(options.seconds ?? 5, 5) });
    // The warm-up of POST /tasks/ adds thousands of rows to a table analysed empty: without fresh
    // statistics the statements planned for an empty table keep running on a growing one until
    // autovacuum analyses it (within a minute in production, but after this case's runs were over).
    await settleDatabase();
    const result: CaseResult = { runs: [], serverUs: [], postgresUs: [] };
    for (let run = 0; run < runs; run++) {
      const serverBefore = await treeCpuMs(server.pid);
      const postgresBefore = await treeCpuMs(postgresPid);
      const answer = await ab(options);
      const perRequest = (before: number, after: number) => ((after - before) * 1000) / answer.completed;
      result.serverUs.push(perRequest(serverBefore, await treeCpuMs(server.pid)));
      result.postgresUs.push(perRequest(postgresBefore, await treeCpuMs(postgresPid)));
      result.runs.push(answer);
    }
    results.set(item.key, result);
    const measured = result.runs;
    const rps = measured.map((r) => Math.round(r.rps)).join(', ');
    console.log(`  ${item.label}: ${rps} req/s; p99 ${measured.map((r) => r.p99).join(', ')} ms`);
  }
  return results;
}

/**
 * VACUUM ANALYZE after seeding and after each warm-up: the state autovacuum leaves the tables in within a
 * minute or so (statistics, visibility map). Measured straight after a bulk write, the first runs would
 * plan with stale statistics and the later ones with whatever autovacuum had done by then — the runs
 * would not measure the same thing.
 */
async function settle(databaseUrl: string): Promise<void> {
  const client = new pgDriver.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}

/**
 * The statements one warm `GET /users/` of `company` sends, captured from an in-process app on the same
 * database (job runner off, so nothing else of that process talks to the database meanwhile).
 */
async function usersPageStatements(
  databaseUrl: string,
  dataDir: string,
  company: SeededCompany,
): Promise<CapturedStatement[]> {
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JOBS_CONCURRENCY: '0',
    MIGRATE_TENANTS_ON_START: 'off',
    LOG_LEVEL: 'silent',
    CC_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  const core = await openCore(config, { defaultDatabaseUrl: databaseUrl, poolSize: 2 });
  const app = await buildApp(core, { logger: false });
  try {
    await app.ready();
    return await routeStatements(app, {
      method: 'GET',
      url: '/users/',
      headers: { tenant: company.tenant, authorization: `Bearer ${company.token}` },
    });
  } finally {
    await app.close();
    await core.close();
  }
}

/**
 * pgbench on the same database with the statements of `GET /users/` (2 users): the ceiling, and each
 * WEB_CONCURRENCY's median req/s as a percentage of it.
 */
async function usersCeiling(
  databaseUrl: string,
  dataDir: string,
  small: SeededCompany,
  usersRps: Map<string, number[]>,
  runs: number,
): Promise<{ rows: Measurement[]; notes: string[] }> {
  const statements = await usersPageStatements(databaseUrl, dataDir, small);
  const script = pgbenchScript(statements);
  const tps: number[] = [];
  let command = '';
  for (let i = 0; i < runs; i++) {
    const result = await runPgbench(databaseUrl, script, dataDir, { clients: 10, threads: 2, seconds: 5 });
    tps.push(result.tps);
    command = result.command;
  }
  console.log(`  pgbench, the statements of GET /users/ (2 users): ${tps.map(Math.round).join(', ')} tps`);
  const ceiling = median(tps);
  const rows = [
    summarise(
      `pgbench ceiling: the ${statements.length} statement(s) of GET /users/ (2 users), 10 clients`,
      'tps',
      tps,
    ),
  ];
  for (const [suffix, rps] of usersRps) {
    rows.push(
      summarise(
        `GET /users/ (2 users) as a share of the pgbench ceiling, ${suffix}`,
        '%',
        rps.map((value) => (100 * value) / ceiling),
        { text: '≥ 40 %', ok: (share) => share >= 40 },
        `req/s of each run ÷ the median pgbench tps (${Math.round(ceiling)})`,
      ),
    );
  }
  const notes = [
    `pgbench ceiling: \`${command}\`; the script is the ${statements.length} statement(s) one warm GET /users/ sends, captured from the code path (bench/ceiling.ts, checked by test/bench/ceiling.test.ts), with the same parameters:\n\n\`\`\`sql\n${script.script.trim()}\n\`\`\``,
  ];
  return { rows, notes };
}

export interface HttpBenchOptions {
  quick: boolean;
  /** Only these case keys (users-2, users-50, tasks-list, task-get, task-post); no login. */
  cases?: string[];
  /** Only these WEB_CONCURRENCY values (default 1 and 2). */
  workers?: number[];
}

export async function httpBench(
  options: HttpBenchOptions,
): Promise<{ rows: Measurement[]; notes: string[] }> {
  ensureAb();
  buildProduction();
  const runs = options.quick ? 3 : 5;
  const requests = options.quick ? 3000 : 5000;
  const warmup = options.quick ? 1000 : 2000;
  const pg = await benchPostgres();
  const postgresPid = await postmasterPid(pg.dataDir);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenantry-bench-http-'));
  const logFile = path.join(dataDir, 'server.log');
  const serverOptions = { databaseUrl: pg.url, dataDir, adminToken: ADMIN_TOKEN, logFile };
  const rows: Measurement[] = [];
  const notes: string[] = [];
  let server: RunningServer | undefined;
  try {
    server = await startServer({ ...serverOptions, webConcurrency: 1 });
    const seeding = performance.now();
    const small = await registerCompany(server.base, dataDir, 'small');
    await addUsers(server.base, small, 'small', 2);
    await addTags(server.base, small, 2);
    const large = await registerCompany(server.base, dataDir, 'large');
    await addUsers(server.base, large, 'large', 50);
    await addTags(server.base, large, 5);
    await addTasks(server.base, large, 200);
    console.log(`seeded over HTTP in ${Math.round(performance.now() - seeding)} ms`);
    await settle(pg.url);

    const postBody = { ...taskBody(small, 0), title: 'Benchmark task', status: 'todo' };
    const postFile = path.join(dataDir, 'task.json');
    await writeFile(postFile, JSON.stringify(postBody));
    const all = cases(small, large, postFile, requests, options.quick ? 2 : 5);
    const list = options.cases ? all.filter((item) => options.cases?.includes(item.key)) : all;
    if (list.length === 0) throw new Error(`no such case: ${options.cases?.join(', ')}`);
    const sizes = await checkSamples(server.base, list, postBody);
    console.log(`sample answers match /docs/json: ${[...sizes].map(([k, v]) => `${k} ${v} B`).join(', ')}`);

    const predecessor = all[0]?.ab(server.base);
    if (predecessor) {
      const command = abCommand(predecessor);
      console.log(`the predecessor's test: ${command}`);
      notes.push(
        `The predecessor's test, exactly as run: \`${command}\` (tenant and token are the seeded ones).`,
      );
    }
    for (const item of all.slice(1)) {
      const shown = abCommand(item.ab('http://127.0.0.1:PORT'))
        .replace(/Bearer [\w-]+/, 'Bearer TOKEN')
        .replace(/tenant: \w+/, 'tenant: TENANT');
      notes.push(`${item.label}: \`${shown}\``);
    }

    // The same server over a Unix socket to PostgreSQL (the user pages only): what a deployment with
    // PostgreSQL on the same host saves per round trip (kernel TCP work on both sides of every query).
    const setups = [
      ...(options.workers ?? [1, 2]).map((concurrency) => ({ concurrency, socket: false, list })),
      ...(options.workers ? [] : [1, 2]).map((concurrency) => ({
        concurrency,
        socket: true,
        list: list.filter((c) => c.key.startsWith('users')),
      })),
    ];
    const usersRps = new Map<string, number[]>();
    for (const [i, setup] of setups.entries()) {
      const { concurrency } = setup;
      if (i > 0 || concurrency !== 1) {
        await server.stop();
        server = await startServer({
          ...serverOptions,
          webConcurrency: concurrency,
          ...(setup.socket ? { databaseUrl: pg.socketUrl } : {}),
        });
      }
      const suffix = `WEB_CONCURRENCY=${concurrency}${setup.socket ? ', PostgreSQL over a Unix socket' : ''}`;
      console.log(`${suffix} (${loadAverage()})`);
      notes.push(`${suffix} measured at ${loadAverage()}.`);
      const results = await measure(server, postgresPid, setup.list, runs, warmup, () => settle(pg.url));
      for (const item of setup.list) {
        const result = results.get(item.key);
        if (!result) continue;
        const failed = result.runs.reduce((sum, r) => sum + r.failed + r.non2xx, 0);
        const p99 = summarise(
          'p99',
          'ms',
          result.runs.map((r) => r.p99),
        );
        const size = sizes.get(item.key);
        rows.push(
          summarise(
            `${item.label}, ${suffix}`,
            'req/s',
            result.runs.map((r) => r.rps),
            item.target && {
              text: item.target.text,
              ok: (rps) => failed === 0 && (item.target?.ok(rps) ?? true),
            },
            `p99 ${p99.median} ms (${p99.min}–${p99.max}); ${failed} failed or non-2xx${size ? `; ${size} B answer` : ''}; CPU per request: server ${Math.round(median(result.serverUs))} µs + PostgreSQL ${Math.round(median(result.postgresUs))} µs`,
          ),
        );
        if (item.key === 'users-2' && !setup.socket)
          usersRps.set(
            suffix,
            result.runs.map((r) => r.rps),
          );
        if (item.key === 'users-2')
          rows.push(
            summarise(
              `p99 latency, GET /users/ 2 users, ${suffix}`,
              'ms',
              result.runs.map((r) => r.p99),
              { text: '< 25 ms', ok: (m) => m < 25 },
            ),
          );
      }
    }
    await server.stop();
    server = undefined;
    if (usersRps.size > 0) {
      const ceiling = await usersCeiling(pg.url, dataDir, small, usersRps, runs);
      rows.push(...ceiling.rows);
      notes.push(...ceiling.notes);
    }
    if (options.cases) return { rows, notes };

    const login = await measureLogin({
      databaseUrl: pg.url,
      dataDir,
      adminToken: ADMIN_TOKEN,
      email: small.users[1]?.email ?? '',
      password: PASSWORD,
      runs: options.quick ? 2 : 3,
      requests: options.quick ? 100 : 300,
    });
    rows.push(login.row);
    notes.push(...login.notes);
  } finally {
    await server?.stop();
    await pg.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { rows, notes };
}

export async function runHttpSection(
  quick: boolean,
  command: string,
  selection: Pick<HttpBenchOptions, 'cases' | 'workers'> = {},
): Promise<void> {
  const { rows, notes } = await httpBench({ quick, ...selection });
  if (selection.cases || selection.workers) {
    // A partial run is for comparing builds during work: printed, never written to BENCHMARKS.md.
    printRows(rows);
    return;
  }
  await saveSection('http', {
    title: 'HTTP: requests per second (ab on loopback, production build)',
    command,
    measuredAt: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineDescription(),
    rows,
    notes: [
      'Server: `node dist/src/server.js` with NODE_ENV=production, LOG_LEVEL=warn, pool of 10 connections per process, on the same 2 cores as PostgreSQL and ab.',
      'Seed (over HTTP): tenant "small" with 2 users; tenant "large" with 50 users, 5 tags and 200 tasks (150 todo), each task with 2 tags and 2 assignees. POST /tasks/ writes into "small". Then, and again after the warm-up of each case, `VACUUM ANALYZE`: the state autovacuum leaves the tables in (statistics, visibility map), so every run plans with current statistics.',
      'Before measuring, one answer of every route is validated against its response schema in /docs/json (objects made strict: no unlisted property) and against the seed.',
      'Rows "PostgreSQL over a Unix socket": the same server and database with DATABASE_URL=postgres:///postgres?host=<socket folder>&port=… instead of 127.0.0.1 — a deployment with PostgreSQL on the same host; measured for the user pages only.',
      'CPU per request = CPU time (user + system, from /proc) of the server processes and of the PostgreSQL processes during a run, divided by its requests (median of the runs); ab takes the rest of the 2 cores. Unlike requests/s it barely moves with the load other programs put on the machine.',
      ...notes,
    ],
  });
  printRows(rows);
}

export function printRows(rows: Measurement[]): void {
  for (const row of rows)
    console.log(
      `${row.name}: median ${row.median} ${row.unit} (min ${row.min}, max ${row.max}, ${row.runs} runs)${row.target ? ` target ${row.target}: ${row.met ? 'met' : 'NOT met'}` : ''}${row.note ? ` — ${row.note}` : ''}`,
    );
}
