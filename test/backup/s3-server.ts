/**
 * A real S3-compatible server for the tests: the `s3rver` package's own CLI as a child process on a
 * free loopback port, with its data under the OS temp folder; stopped and removed after the file.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/db/embedded.ts';
import { onFileEnd } from '../helpers/cleanup.ts';
import { tempFolder } from './helpers.ts';

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  accessKeyId: string;
  secretAccessKey: string;
}

export async function startS3Server(bucket = 'tenantry-backups'): Promise<S3Server> {
  const directory = await tempFolder('s3rver');
  const port = await freePort();
  const bin = path.join(
    path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')),
    'bin',
    's3rver.js',
  );
  const child = spawn(
    process.execPath,
    [
      bin,
      '--directory',
      directory,
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--silent',
      '--configure-bucket',
      bucket,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  onFileEnd(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const server: S3Server = {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
  // s3rver creates the bucket before it listens: any HTTP answer means ready.
  for (let attempt = 0; ; attempt++) {
    try {
      await fetch(server.endpoint);
      return server;
    } catch (error) {
      if (attempt > 200 || child.exitCode !== null)
        throw new Error(`s3rver did not start: ${String(error)}\n${stderr}`);
      await sleep(50);
    }
  }
}
