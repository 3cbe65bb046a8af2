/**
 * A TCP or Unix-socket proxy in front of a real PostgreSQL that can lose the database in every way a
 * network or a server can (issue 14): refuse connections, reset them, swallow them until the client
 * times out, answer the startup with FATAL 57P01 (admin shutdown) or 57P03 (cannot connect now), or —
 * on a Unix socket — let the socket file vanish (`connect ENOENT …/.s.PGSQL.<port>`) or go stale
 * (ECONNREFUSED). Switching modes cuts the connections already open, so a pool cannot hide behind them.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'gone' | 'reset' | 'blackhole' | '57P01' | '57P03';

const FATAL_MESSAGES = {
  '57P01': 'terminating connection due to administrator command',
  '57P03': 'the database system is starting up',
} as const;

/** A backend ErrorResponse ('E') message with severity FATAL. */
function fatal(code: keyof typeof FATAL_MESSAGES): Buffer {
  const fields = Buffer.concat([
    ...[
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', code],
      ['M', FATAL_MESSAGES[code]],
    ].map(([tag, value]) => Buffer.from(`${tag}${value}\0`)),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

/** Leaves a socket file nobody listens on: a listener killed with SIGKILL never removes its file. */
async function staleSocketFile(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export class FaultProxy {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  mode: FaultMode = 'pass';

  /** `listen`: a TCP port (0: any) on 127.0.0.1, or the path of a Unix socket file. */
  constructor(
    private readonly listen: { port: number } | { path: string },
    private readonly target: { host: string; port: number },
  ) {}

  /** The TCP port it listens on (after `start`). */
  port = 0;

  async start(): Promise<this> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if ('path' in this.listen) server.listen(this.listen.path, resolve);
      else server.listen(this.listen.port, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (address && typeof address === 'object') {
      this.port = address.port;
      if ('port' in this.listen) this.listen.port = address.port;
    }
    this.server = server;
    return this;
  }

  private accept(client: Socket): void {
    this.open.add(client);
    client.on('close', () => this.open.delete(client));
    client.on('error', () => {});
    switch (this.mode) {
      case 'reset':
        // A TCP RST; a Unix socket has none, so it is closed before a byte is answered.
        if ('path' in this.listen) client.destroy();
        else client.resetAndDestroy();
        return;
      case 'blackhole':
        return;
      case '57P01':
      case '57P03': {
        const code = this.mode;
        client.once('data', () => client.end(fatal(code)));
        return;
      }
      default: {
        const upstream = connect(this.target.port, this.target.host);
        this.open.add(upstream);
        upstream.on('close', () => this.open.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
      }
    }
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Cuts every open connection and behaves as `mode` from now on. */
  async set(mode: FaultMode): Promise<void> {
    this.mode = mode;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    if (mode === 'refuse' || mode === 'gone') {
      await this.stopListening();
      if ('path' in this.listen) {
        await rm(this.listen.path, { force: true });
        if (mode === 'refuse') await staleSocketFile(this.listen.path);
      }
    } else if (!this.server) {
      if ('path' in this.listen) await rm(this.listen.path, { force: true });
      await this.start();
    }
  }

  async close(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await this.stopListening();
    if ('path' in this.listen) await rm(this.listen.path, { force: true });
  }
}
