/**
 * CPU time of a process tree from /proc (user + system, all threads, every descendant alive at the time):
 * the server (primary + workers) and the embedded PostgreSQL (postmaster + backends). Divided by the
 * requests of a run, it says where each request's CPU goes — a figure far steadier than requests/s on a
 * shared, busy machine, since waiting for a CPU costs no CPU time.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function children(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text
    .split(' ')
    .map(Number)
    .filter((child) => child > 0);
}

async function ownCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return 0;
  // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Milliseconds of CPU used so far by `pid` and its descendants. */
export async function treeCpuMs(pid: number): Promise<number> {
  let total = await ownCpuMs(pid);
  for (const child of await children(pid)) total += await treeCpuMs(child);
  return total;
}

/** The postmaster's pid (first line of postmaster.pid in the data folder). */
export async function postmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  return Number(text.split('\n')[0]);
}
