/**
 * Process entry: config → database (DATABASE_URL or embedded) → public migrations → app.listen →
 * tenant migrations per MIGRATE_TENANTS_ON_START → graceful shutdown on SIGTERM/SIGINT.
 *
 * With WEB_CONCURRENCY > 1 the primary process owns the database and the migrations and forks that many
 * workers (node:cluster) that share the port; each worker builds its own app and pools.
 */
import cluster from 'node:cluster';
import path from 'node:path';
import pino from 'pino';
import { type Config, ConfigError, environmentWithDotenv, loadConfig } from './config.ts';
import { type Core, openCore } from './core.ts';
import { type DefaultDatabase, NoDatabaseError, openDefaultDatabase } from './db/default-database.ts';
import { enqueueStartupReconcile } from './jobs/schedules.ts';
import { localSecret } from './local-secrets.ts';
import { upgradeFleet } from './migrations/fleet.ts';

/** Set by the primary for its workers: the database it started or was given. */
const WORKER_DATABASE_URL = 'TENANTRY_WORKER_DATABASE_URL';
/** The development control center token's file in the data folder. */
const CC_TOKEN_FILE = 'cc-admin-token';

function readConfig(): Config {
  try {
    return loadConfig(environmentWithDotenv());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tenantry: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function migrateTenants(core: Core, log: pino.Logger): Promise<void> {
  const report = await upgradeFleet(core.hosts, core.registry, core.tenantRunner, {});
  const level = report.failed > 0 ? 'error' : 'info';
  log[level](
    {
      upgraded: report.upgraded,
      up_to_date: report.up_to_date,
      failed: report.failed,
      ms: report.duration_ms,
    },
    'tenant migrations finished',
  );
}

/**
 * Where to go next, in plain words on standard output (the logs are JSON): the app, the API docs and,
 * outside production, the control center token and where it is kept.
 */
function announce(config: Config, tokenFile: string | undefined): void {
  const shown = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = `http://${shown.includes(':') ? `[${shown}]` : shown}:${config.port}`;
  const lines = [`Tenantry is running on ${base}`, `  App:       ${base}/app/`, `  API docs:  ${base}/docs`];
  if (config.nodeEnv !== 'production' && config.ccAdminToken) {
    lines.push(
      `  Control center token: ${config.ccAdminToken}`,
      `    (${tokenFile ? `generated once, kept in ${tokenFile}` : 'from CC_ADMIN_TOKEN'})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = pino({ level: config.logLevel, base: { pid: process.pid } });
  const isWorker = cluster.isWorker;
  // Outside production an unset CC_ADMIN_TOKEN is generated once and kept in the data folder, so it
  // survives restarts and every worker reads the same one (production keeps /cc disabled instead).
  let tokenFile: string | undefined;
  if (!config.ccAdminToken && config.nodeEnv !== 'production') {
    tokenFile = path.join(config.dataDir, CC_TOKEN_FILE);
    config.ccAdminToken = await localSecret(config.dataDir, CC_TOKEN_FILE);
  }

  let database: DefaultDatabase;
  const inherited = process.env[WORKER_DATABASE_URL];
  if (isWorker && inherited) {
    database = { url: inherited, stop: async () => {}, description: 'from the primary process' };
  } else {
    try {
      database = await openDefaultDatabase(config, (message) => log.warn(message));
    } catch (error) {
      if (error instanceof NoDatabaseError) {
        process.stderr.write(`tenantry: ${error.message}\n`);
        process.exit(2);
      }
      log.fatal({ err: error }, 'could not start the database');
      process.exit(1);
    }
    log.info(`database: ${database.description}`);
  }

  // The embedded server's Unix socket when it has one (cheaper per query than loopback TCP).
  const serverDatabaseUrl = database.socketUrl ?? database.url;
  const core = await openCore(config, {
    defaultDatabaseUrl: serverDatabaseUrl,
    poolSize: config.databasePoolSize,
  });
  if (!isWorker) {
    try {
      await core.migratePublic();
    } catch (error) {
      log.fatal({ err: error }, 'public schema migration failed; refusing to serve');
      await core.close();
      await database.stop();
      process.exit(1);
    }
    if (config.migrateTenantsOnStart === 'blocking') await migrateTenants(core, log);
  }
  // Cross-host creations, deletions and directory writes a crash interrupted: finished or undone by a
  // job enqueued now (one per start, whatever the number of processes: job key) and by cron afterwards
  // (src/jobs/schedules.ts, src/tenancy/reconciler.ts).
  if (!isWorker) {
    await enqueueStartupReconcile(core).catch((error: unknown) =>
      log.warn({ err: error }, 'could not enqueue the start-up reconciliation; cron will run it'),
    );
  }

  if (!isWorker && config.webConcurrency > 1) {
    const workerEnv: Record<string, string> = { [WORKER_DATABASE_URL]: serverDatabaseUrl };
    for (let i = 0; i < config.webConcurrency; i++) cluster.fork(workerEnv);
    cluster.on('exit', (worker, code, signal) => {
      if (!shuttingDown) {
        log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
        cluster.fork(workerEnv);
      }
    });
    let shuttingDown = false;
    const stopAll = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info({ signal }, 'shutting down workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const check = () =>
          Object.keys(cluster.workers ?? {}).length === 0 ? resolve() : setTimeout(check, 50);
        check();
      });
      await core.close();
      await database.stop();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stopAll('SIGTERM'));
    process.on('SIGINT', () => void stopAll('SIGINT'));
    cluster.once('listening', () => announce(config, tokenFile));
    if (config.migrateTenantsOnStart === 'background') {
      migrateTenants(core, log).catch((error) =>
        log.error({ err: error }, 'background tenant migration failed'),
      );
    }
    return;
  }

  // Loaded here, not at the top: a cluster primary never builds the app, and the HTTP stack (Fastify,
  // every route and schema) is ~30 MB of RSS it would carry for nothing (BENCHMARKS.md, memory).
  const { buildApp } = await import('./app.ts');
  const app = await buildApp(core);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const forceExit = setTimeout(() => {
      app.log.error('graceful shutdown took longer than 20 s; exiting');
      process.exit(1);
    }, 20_000);
    forceExit.unref();
    try {
      await app.close();
      await core.close();
      await database.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    app.log.fatal({ err: error }, `could not listen on ${config.host}:${config.port}`);
    await core.close();
    await database.stop();
    process.exit(1);
  }

  if (!isWorker) announce(config, tokenFile);
  if (!isWorker && config.migrateTenantsOnStart === 'background') {
    migrateTenants(core, log).catch((error) =>
      log.error({ err: error }, 'background tenant migration failed'),
    );
  }
}

main().catch((error) => {
  process.stderr.write(
    `tenantry: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
