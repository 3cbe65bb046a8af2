/**
 * The embedded PostgreSQL servers one test run starts, and their folders: all stopped and removed
 * together — after the run, when starting one of them fails (the others must not outlive the run), and
 * when the run is interrupted. Vitest answers SIGINT/SIGTERM with `process.exit()` and skips global
 * teardown, so an interrupted run is cleaned up from the synchronous `exit` event.
 */
import { readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type EmbeddedPostgresOptions,
  type RunningPostgres,
  startEmbeddedPostgres,
} from '../../src/db/embedded.ts';

/** True while `pid` is a running process (neither gone nor a zombie waiting to be reaped). */
export function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class ServerGroup {
  private readonly servers: RunningPostgres[] = [];
  private readonly folders: string[] = [];
  private readonly onExit = () => this.stopNow();

  constructor() {
    process.once('exit', this.onExit);
  }

  /** Starts a server in a fresh private folder under the OS temp folder. */
  async start(label: string, settings: EmbeddedPostgresOptions['settings']): Promise<RunningPostgres> {
    // mkdtemp: a new folder of our own with a random name, so two runs never share one and nobody
    // else's folder is reused. It is made 0700; the server's OS user must enter it, so open it to 0755.
    const folder = await mkdtemp(path.join(tmpdir(), `tenantry-test-${label}-`));
    this.folders.push(folder);
    await chmod(folder, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: path.join(folder, 'pg'), settings });
    this.servers.push(server);
    return server;
  }

  /** Fast shutdown of every server, then its folder is removed. */
  async stop(): Promise<void> {
    process.off('exit', this.onExit);
    await Promise.all(this.servers.map((server) => server.stop()));
    await Promise.all(this.folders.map((folder) => rm(folder, { recursive: true, force: true })));
    this.servers.length = 0;
    this.folders.length = 0;
  }

  /** The synchronous path for a process that is exiting: immediate shutdown, wait, remove. */
  stopNow(): void {
    const pids = this.servers.flatMap((server) => (server.process.pid ? [server.process.pid] : []));
    for (const server of this.servers) server.process.kill('SIGQUIT');
    const deadline = Date.now() + 10_000;
    while (pids.some(running) && Date.now() < deadline) sleepSync(50);
    for (const folder of this.folders) rmSync(folder, { recursive: true, force: true });
    this.servers.length = 0;
    this.folders.length = 0;
  }
}
