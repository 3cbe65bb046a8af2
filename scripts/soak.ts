/**
 * Soak test (issue 9; not part of `npm test`): `npm run soak [-- --seconds 60 --concurrency 8]`.
 *
 * Starts its own embedded PostgreSQL under the OS temp folder and the real server (src/server.ts through
 * tsx, or dist/ with --built) on 127.0.0.1, signs a company up, then runs mixed traffic for a bounded
 * time with bounded concurrency: user lists, task create/list/patch, control-center tenant lists, and
 * paced logins (kept under the per-IP and per-e-mail login budgets, which would otherwise answer 429).
 * It samples the server's RSS every second and reports request counts, latencies, errors and memory.
 *
 * Pass criteria (exit 1 otherwise): no errors (every answer the expected status, no network failure),
 * memory flat — the median RSS of the last third of the run (after warm-up) at most `--max-growth`
 * (default 15 %) above the median of the first third — and a clean exit 0 on SIGTERM at the end.
 * Only 127.0.0.1 is ever contacted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PASSWORD = 'soak-password-123';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '8' },
    'max-growth': { type: 'string', default: '0.15' },
    'warm-up': { type: 'string', default: '0.2' },
    built: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`soak: --${name} must be a positive number (got ${raw})\n`);
    process.exit(2);
  }
  return value;
}

const SECONDS = positive('seconds', args.seconds);
const CONCURRENCY = Math.floor(positive('concurrency', args.concurrency));
const MAX_GROWTH = positive('max-growth', args['max-growth']);
const WARM_UP = positive('warm-up', args['warm-up']);

type Op = 'users.list' | 'tasks.create' | 'tasks.list' | 'tasks.patch' | 'cc.list' | 'auth.login';

interface OpStats {
  count: number;
  errors: number;
  totalMs: number;
  latencies: number[];
}

const stats = new Map<Op, OpStats>();
const errorSamples: string[] = [];

function record(op: Op, ms: number, error: string | null): void {
  let entry = stats.get(op);
  if (!entry) {
    entry = { count: 0, errors: 0, totalMs: 0, latencies: [] };
    stats.set(op, entry);
  }
  entry.count++;
  entry.totalMs += ms;
  entry.latencies.push(ms);
  if (error) {
    entry.errors++;
    if (errorSamples.length < 20) errorSamples.push(`${op}: ${error}`);
  }
}

interface Reply {
  status: number;
  json: unknown;
}

let baseUrl = '';

async function call(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Reply> {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/** Runs one request of `op`, timing it; an unexpected status or a network failure is an error. */
async function measured(op: Op, expected: number, run: () => Promise<Reply>): Promise<Reply | null> {
  const started = performance.now();
  try {
    const reply = await run();
    const ok = reply.status === expected;
    record(
      op,
      performance.now() - started,
      ok ? null : `HTTP ${reply.status} ${JSON.stringify(reply.json).slice(0, 200)}`,
    );
    return ok ? reply : null;
  } catch (error) {
    record(op, performance.now() - started, String(error));
    return null;
  }
}

function must<T>(reply: Reply, status: number, what: string): T {
  if (reply.status !== status) throw new Error(`${what}: HTTP ${reply.status} ${JSON.stringify(reply.json)}`);
  return reply.json as T;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

async function waitForHealth(child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited during start:\n${output()}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not start in 60 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function verificationToken(outbox: string, email: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const names = existsSync(outbox) ? await readdir(outbox) : [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const message = JSON.parse(await readFile(path.join(outbox, name), 'utf8')) as {
        to: string;
        text: string;
      };
      const match = /\/verify-email\/(\S+)/.exec(message.text);
      if (message.to === email && match) return decodeURIComponent(match[1]!);
    }
    if (Date.now() > deadline) throw new Error(`no verification e-mail to ${email} in ${outbox}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<number> {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-soak-'));
  // mkdtemp makes 0700; as root PostgreSQL runs as the postgres OS user, which must enter the folder.
  await chmod(folder, 0o755);
  const adminToken = randomBytes(24).toString('base64url');
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(folder, 'pg') });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const entry = args.built ? ['dist/src/server.js'] : ['--import', 'tsx', 'src/server.ts'];
  if (args.built && !existsSync(path.join(ROOT, 'dist/src/server.js')))
    throw new Error('--built: run npm run build first');
  const server = spawn(process.execPath, entry, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: postgres.url,
      DATA_DIR: path.join(folder, 'data'),
      CC_ADMIN_TOKEN: adminToken,
      MIGRATE_TENANTS_ON_START: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  server.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));

  try {
    await waitForHealth(server, () => output);
    const pid = server.pid!;

    // A company with an owner, members who can sign in, lists and some tasks.
    const ownerEmail = `soak.${randomBytes(4).toString('hex')}@example.com`;
    must(
      await call(
        'POST',
        '/auth/register',
        {},
        {
          company_name: 'Soak Ltd',
          first_name: 'Sam',
          last_name: 'Soak',
          email: ownerEmail,
          password: PASSWORD,
          tos: true,
        },
      ),
      201,
      'register',
    );
    const session = must<{ tenant_id: string; auth_token: string }>(
      await call(
        'POST',
        '/auth/verify-email',
        {},
        { token: await verificationToken(path.join(folder, 'data', 'outbox'), ownerEmail) },
      ),
      200,
      'verify',
    );
    const owner = { tenant: session.tenant_id, authorization: `Bearer ${session.auth_token}` };
    const admin = { authorization: `Bearer ${adminToken}` };
    const members: string[] = [];
    for (let i = 0; i < 8; i++) {
      const email = `member${i}.${randomBytes(4).toString('hex')}@example.com`;
      must(
        await call('POST', '/users/', owner, {
          email,
          first_name: 'M',
          last_name: `${i}`,
          password: PASSWORD,
        }),
        201,
        'user',
      );
      members.push(email);
    }
    const lists: string[] = [];
    for (let i = 0; i < 3; i++)
      lists.push(
        must<{ uuid: string }>(await call('POST', '/lists/', owner, { name: `List ${i}` }), 201, 'list').uuid,
      );
    const tasks: string[] = [];
    for (let i = 0; i < 20; i++)
      tasks.push(
        must<{ uuid: string }>(
          await call('POST', '/tasks/', owner, { title: `Seed ${i}`, list_uuid: lists[i % 3] }),
          201,
          'task',
        ).uuid,
      );

    const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
    const statuses = ['todo', 'in_progress', 'done'] as const;
    const priorities = ['low', 'medium', 'high', 'urgent'] as const;
    const mix: Array<[Op, number, () => Promise<unknown>]> = [
      ['users.list', 25, () => measured('users.list', 200, () => call('GET', '/users/?size=20', owner))],
      [
        'tasks.create',
        20,
        async () => {
          const reply = await measured('tasks.create', 201, () =>
            call('POST', '/tasks/', owner, {
              title: `Task ${randomBytes(3).toString('hex')}`,
              list_uuid: pick(lists),
              priority: pick(priorities),
            }),
          );
          const uuid = (reply?.json as { uuid?: string } | null)?.uuid;
          // Patch targets stay a bounded, rotating set: the client itself must not grow either.
          if (uuid) tasks[Math.floor(Math.random() * tasks.length)] = uuid;
        },
      ],
      [
        'tasks.list',
        25,
        () =>
          measured('tasks.list', 200, () =>
            call('GET', `/tasks/?size=20&sort=due_at&status=${pick(statuses)}`, owner),
          ),
      ],
      [
        'tasks.patch',
        20,
        () =>
          measured('tasks.patch', 200, () =>
            call('PATCH', `/tasks/${pick(tasks)}`, owner, {
              status: pick(statuses),
              priority: pick(priorities),
            }),
          ),
      ],
      ['cc.list', 10, () => measured('cc.list', 200, () => call('GET', '/cc/tenants?size=20', admin))],
    ];
    const totalWeight = mix.reduce((sum, [, weight]) => sum + weight, 0);
    const nextOp = () => {
      let roll = Math.random() * totalWeight;
      for (const [, weight, run] of mix) {
        roll -= weight;
        if (roll < 0) return run;
      }
      return mix[0]![2];
    };

    const startedAt = Date.now();
    const deadline = startedAt + SECONDS * 1000;
    const rss: Array<{ t: number; kb: number }> = [];
    const sampler = setInterval(() => {
      rssKb(pid)
        .then((kb) => rss.push({ t: (Date.now() - startedAt) / 1000, kb }))
        .catch(() => {});
    }, 1000);
    // Logins: one every 6 s, rotating over 8 members — under 60 per IP and 10 per e-mail per 5 minutes.
    const logins = (async () => {
      let i = 0;
      while (Date.now() < deadline) {
        const email = members[i++ % members.length]!;
        await measured('auth.login', 200, () =>
          call('POST', '/auth/login', {}, { email, password: PASSWORD }),
        );
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(6_000, Math.max(0, deadline - Date.now()))),
        );
      }
    })();
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) await nextOp()();
    });
    await Promise.all([...workers, logins]);
    clearInterval(sampler);
    const elapsed = (Date.now() - startedAt) / 1000;

    server.kill('SIGTERM');
    const exitCode = await exited;

    // Memory: drop the warm-up, then compare the median of the last third with the first third.
    const steady = rss.filter((sample) => sample.t >= elapsed * WARM_UP && Number.isFinite(sample.kb));
    const third = Math.max(1, Math.floor(steady.length / 3));
    const first = median(steady.slice(0, third).map((s) => s.kb));
    const last = median(steady.slice(-third).map((s) => s.kb));
    const growth = first > 0 ? (last - first) / first : Number.NaN;

    const operations = Object.fromEntries(
      [...stats].map(([op, s]) => [
        op,
        {
          requests: s.count,
          errors: s.errors,
          mean_ms: Math.round((s.totalMs / Math.max(1, s.count)) * 10) / 10,
          p95_ms: Math.round(percentile(s.latencies, 95) * 10) / 10,
          max_ms: Math.round(Math.max(0, ...s.latencies)),
        },
      ]),
    );
    const requests = [...stats.values()].reduce((sum, s) => sum + s.count, 0);
    const errors = [...stats.values()].reduce((sum, s) => sum + s.errors, 0);
    const result = {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`,
      seconds: Math.round(elapsed),
      concurrency: CONCURRENCY,
      requests,
      requests_per_s: Math.round(requests / elapsed),
      errors,
      operations,
      rss_mb: {
        samples: rss.length,
        min: Math.round(Math.min(...rss.map((s) => s.kb)) / 1024),
        max: Math.round(Math.max(...rss.map((s) => s.kb)) / 1024),
        first_third_median: Math.round(first / 1024),
        last_third_median: Math.round(last / 1024),
        growth_pct: Math.round(growth * 1000) / 10,
        series: rss.filter((_, i) => i % 5 === 0).map((s) => Math.round(s.kb / 1024)),
      },
      server_exit_code: exitCode,
      error_samples: errorSamples,
    };
    const failures: string[] = [];
    if (errors > 0) failures.push(`${errors} errors`);
    if (!(growth <= MAX_GROWTH))
      failures.push(`RSS grew ${result.rss_mb.growth_pct} % (limit ${MAX_GROWTH * 100} %)`);
    if (exitCode !== 0) failures.push(`the server exited ${exitCode} on SIGTERM`);

    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`soak: ${result.seconds} s, concurrency ${CONCURRENCY}, ${result.machine}\n`);
      process.stdout.write(`requests ${requests} (${result.requests_per_s}/s), errors ${errors}\n`);
      for (const [op, s] of Object.entries(operations))
        process.stdout.write(
          `  ${op.padEnd(13)} ${String(s.requests).padStart(7)} req  ${String(s.errors).padStart(3)} err  mean ${s.mean_ms} ms  p95 ${s.p95_ms} ms  max ${s.max_ms} ms\n`,
        );
      const m = result.rss_mb;
      process.stdout.write(
        `RSS MB: min ${m.min}, max ${m.max}; median first third ${m.first_third_median} → last third ${m.last_third_median} (${m.growth_pct} %); every 5 s: ${m.series.join(' ')}\n`,
      );
      for (const sample of errorSamples) process.stdout.write(`  error: ${sample}\n`);
    }
    process.stdout.write(failures.length ? `FAIL: ${failures.join('; ')}\n` : 'PASS\n');
    return failures.length ? 1 : 0;
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
    await postgres.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
