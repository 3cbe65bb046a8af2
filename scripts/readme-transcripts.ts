/**
 * The README's transcripts, run for real (issue 20: "examples cannot drift from behaviour").
 *
 * Every ```console block that shows a command (`$ …`) is marked `<!-- transcript -->` on the line before
 * it. This script starts a fresh development server (embedded PostgreSQL, empty data folder, the way
 * `npm start` does) in a scratch folder that looks like a checkout, runs every command of every marked
 * block in README order in ONE bash session (so `TOKEN=$(…)` carries on, and each block sees the tenants
 * the earlier ones made), and compares what each printed (stdout and stderr) and its exit code with the
 * README.
 *
 * The README's side of the comparison:
 *  - `…` matches anything within a line; a line that is only `…` matches any number of lines;
 *  - a trailing `# exit code N` (or a line of only that) is the expected exit code (default 0); any
 *    other trailing `  # comment` on an output line is prose for the reader, not output;
 *  - `<!-- transcript setup: <bash> -->` lines before the marker run first, unseen (to stage a situation
 *    such as an orphan schema); `$TENANTRY_PSQL` there is psql on the embedded database.
 * Both sides are normalised: durations, UUIDs, timestamps, the random suffix of derived tenant ids and the
 * port (the README says 8000; the run uses a free one).
 *
 *   npx tsx scripts/readme-transcripts.ts           # check; exit 1 with the differences
 *   npx tsx scripts/readme-transcripts.ts --update  # write what the commands printed into the mismatching blocks
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { openDefaultDatabase } from '../src/db/default-database.ts';
import { freePort } from '../src/db/embedded.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const README = path.join(ROOT, 'README.md');
/** What the scratch folder borrows from the checkout (read only); `.data` is its own. */
const LINKED = ['package.json', 'node_modules', 'src', 'tsconfig.json', 'web', 'dist'];
/** Copied rather than linked: its relative paths are relative to the file, so they must land in the scratch. */
const COPIED = ['sample.config'];

export interface Step {
  /** The command as the README shows it (continuation lines joined with newlines). */
  command: string;
  expected: string[];
  exitCode: number;
  /** README line numbers (0-based) of the expected output, for --update. */
  outputLines: [number, number];
}

export interface Block {
  /** README line (1-based) of the ```console fence. */
  line: number;
  setup: string[];
  steps: Step[];
}

const MARKER = /^<!-- transcript -->$/;
const SETUP = /^<!-- transcript setup: (.*) -->$/;
const EXIT = /^(.*?)\s*#\s*exit(?: code)? (\d+)\s*$/;
const COMMENT = /^(.*?\S)\s{2,}#\s.*$/;

/** The marked blocks of `text`; throws on a console block with commands that is not marked. */
export function parseTranscripts(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let setup: string[] = [];
  let marked = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const setupMatch = SETUP.exec(line);
    if (setupMatch) {
      setup.push(setupMatch[1]!);
      continue;
    }
    if (MARKER.test(line)) {
      marked = true;
      continue;
    }
    if (line === '```console') {
      const start = i;
      const body: number[] = [];
      for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(i);
      const hasCommands = body.some((n) => lines[n]!.startsWith('$ '));
      if (hasCommands && !marked) {
        throw new Error(
          `README.md:${start + 1}: a console block with commands must be marked <!-- transcript -->`,
        );
      }
      if (marked) blocks.push({ line: start + 1, setup, steps: parseSteps(lines, body) });
    }
    if (line.trim() !== '') {
      setup = [];
      marked = false;
    }
  }
  return blocks;
}

function parseSteps(lines: string[], body: number[]): Step[] {
  const steps: Step[] = [];
  let k = 0;
  while (k < body.length) {
    const first = lines[body[k]!]!;
    if (!first.startsWith('$ ')) throw new Error(`README.md:${body[k]! + 1}: output before any command`);
    const command = [first.slice(2)];
    while (command.at(-1)!.endsWith('\\') && k + 1 < body.length) command.push(lines[body[++k]!]!);
    k++;
    const from = body[k] ?? body.at(-1)! + 1;
    const expected: string[] = [];
    let exitCode = 0;
    for (; k < body.length && !lines[body[k]!]!.startsWith('$ '); k++) {
      let text = lines[body[k]!]!;
      const exit = EXIT.exec(text);
      if (exit) {
        exitCode = Number(exit[2]);
        text = exit[1]!;
        if (text.trim() === '') continue;
      }
      expected.push(text.replace(COMMENT, '$1'));
    }
    const end = k < body.length ? body[k]! : body.at(-1)! + 1;
    steps.push({ command: command.join('\n'), expected, exitCode, outputLines: [from, end] });
  }
  return steps;
}

const PATTERNS: Array<[RegExp, string]> = [
  [/\b\d+(?:\.\d+)? ?ms\b/g, 'N ms'],
  [/"(\w+_(?:ms|s))":\d+/g, '"$1":N'],
  [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>'],
  [/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?/g, '<time>'],
  [/\d{8}-\d{6}-\d{3}Z/g, '<time>'],
  [/([a-z0-9])_[0-9a-f]{12}\b/g, '$1_<rand>'],
  [/\b\d+(?:\.\d+)? (kB|MB|B)\b/g, 'N $1'],
  // Column widths follow the values above; alignment is not what a transcript checks.
  [/ {2,}/g, '  '],
  [/-{2,}/g, '--'],
];

export function normalise(line: string): string {
  return PATTERNS.reduce(
    (text, [pattern, replacement]) => text.replace(pattern, replacement),
    line.trimEnd(),
  );
}

function linePattern(expected: string): RegExp {
  const parts = normalise(expected)
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*?')}$`, 's');
}

/** Whether `actual` lines match `expected` (with `…` wildcards, normalised). */
export function matches(expected: string[], actual: string[]): boolean {
  const go = (e: number, a: number): boolean => {
    if (e === expected.length) return a === actual.length;
    if (expected[e]!.trim() === '…') {
      for (let skip = a; skip <= actual.length; skip++) if (go(e + 1, skip)) return true;
      return false;
    }
    return a < actual.length && linePattern(expected[e]!).test(normalise(actual[a]!)) && go(e + 1, a + 1);
  };
  return go(0, 0);
}

/**
 * The environment of a reader's shell: none of the caller's database, token or test settings
 * (DATABASE_URL, CC_ADMIN_TOKEN, NODE_ENV=test…) may leak into the server or the commands.
 */
function readerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'TERM'];
  const env: NodeJS.ProcessEnv = { LANG: 'C.UTF-8' };
  for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...extra };
}

/** A folder that looks like a checkout (the project's files linked in) with its own empty `.data`. */
async function scratchCheckout(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantry-transcripts-'));
  // Enterable by the postgres OS user, as an ordinary checkout is, so the CLI's output is what a user sees
  // (not the note about a data folder moved under the OS temp folder). Nothing secret is kept in it but
  // the throw-away cluster's password, inside .data (0700).
  await chmod(folder, 0o755);
  for (const name of LINKED) await symlink(path.join(ROOT, name), path.join(folder, name)).catch(() => {});
  for (const name of COPIED) await copyFile(path.join(ROOT, name), path.join(folder, name));
  return folder;
}

async function startServer(folder: string, port: number): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/server.ts'], {
    cwd: folder,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let banner = '';
  let errors = '';
  child.stderr?.on('data', (chunk) => {
    errors += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 120 s:\n${errors}`)), 120_000);
    child.stdout?.on('data', (chunk) => {
      banner += chunk;
      if (/Control center token[^\n]*\n[^\n]*\n/.test(banner)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) =>
      reject(new Error(`server exited (${code}) before it started:\n${banner}${errors}`)),
    );
  });
  return { child, banner };
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

interface Outcome {
  block: Block;
  step: Step;
  actual: string[];
  exitCode: number;
}

/** Runs every step of `blocks` in one bash session in `folder`; returns each step's output. */
async function runAll(blocks: Block[], folder: string, port: number): Promise<Outcome[]> {
  const out = path.join(folder, '.transcripts');
  await mkdir(out);
  const withPort = (command: string) => command.replaceAll(':8000', `:${port}`);
  const script: string[] = ['set +e', `cd ${shellQuote(folder)}`];
  const order: Array<{ block: Block; step: Step; id: number }> = [];
  for (const block of blocks) {
    for (const setup of block.setup) {
      script.push(
        `{ ${withPort(setup)}\n} > ${out}/setup.log 2>&1 || { cat ${out}/setup.log >&2; exit 90; }`,
      );
    }
    for (const step of block.steps) {
      const id = order.length;
      order.push({ block, step, id });
      script.push(
        `{ ${withPort(step.command)}\n} > ${out}/${id}.out 2>&1 < /dev/null; echo $? > ${out}/${id}.rc`,
      );
    }
  }
  await writeFile(path.join(out, 'script.sh'), `${script.join('\n')}\n`);
  const psqlUrl = await embeddedUrl(folder);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', path.join(out, 'script.sh')], {
      cwd: folder,
      env: readerEnv({ TENANTRY_PSQL: `psql -X -q -v ON_ERROR_STOP=1 ${psqlUrl}` }),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`the transcript script stopped (exit ${code}); see above`);
  const outcomes: Outcome[] = [];
  for (const { block, step, id } of order) {
    const text = (await readFile(path.join(out, `${id}.out`), 'utf8')).replaceAll(`:${port}`, ':8000');
    // Trailing blank lines (a usage text's last newline) are not something a reader can see.
    const actual = text.replace(/\n+$/, '').split('\n');
    const exitCode = Number((await readFile(path.join(out, `${id}.rc`), 'utf8')).trim());
    outcomes.push({ block, step, actual: text === '' ? [] : actual, exitCode });
  }
  return outcomes;
}

/** The URL of the transcript server's embedded PostgreSQL, found the way the CLI finds it. */
async function embeddedUrl(folder: string): Promise<string> {
  const here = process.cwd();
  process.chdir(folder); // the data folder (and its fallback under the OS temp folder) follow the checkout
  try {
    const database = await openDefaultDatabase(loadConfig({ NODE_ENV: 'development' }), () => {});
    return database.url;
  } finally {
    process.chdir(here);
  }
}

export interface Report {
  checked: number;
  failures: string[];
  outcomes: Outcome[];
  banner: string;
}

export async function runTranscripts(): Promise<Report> {
  const blocks = parseTranscripts(await readFile(README, 'utf8'));
  const folder = await scratchCheckout();
  const port = await freePort();
  const { child, banner } = await startServer(folder, port);
  try {
    const outcomes = await runAll(blocks, folder, port);
    const failures: string[] = [];
    for (const { block, step, actual, exitCode } of outcomes) {
      const problems: string[] = [];
      if (exitCode !== step.exitCode) problems.push(`exit code ${exitCode}, README says ${step.exitCode}`);
      if (!matches(step.expected, actual)) {
        problems.push(`README:\n${step.expected.map((l) => `  | ${l}`).join('\n')}`);
        problems.push(`printed:\n${actual.map((l) => `  | ${l}`).join('\n')}`);
      }
      if (problems.length > 0)
        failures.push(`README.md:${block.line}: $ ${step.command}\n${problems.join('\n')}`);
    }
    return { checked: outcomes.length, failures, outcomes, banner: banner.replaceAll(`:${port}`, ':8000') };
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(folder, { recursive: true, force: true });
  }
}

/** Writes each mismatching step's actual output (and exit code) into the README. */
async function update(outcomes: Outcome[]): Promise<number> {
  const lines = (await readFile(README, 'utf8')).split('\n');
  let changed = 0;
  // Last first, so earlier line numbers stay valid.
  for (const { step, actual, exitCode } of [...outcomes].reverse()) {
    if (matches(step.expected, actual) && exitCode === step.exitCode) continue;
    const printed = [...actual];
    if (exitCode !== 0) {
      if (printed.length === 0) printed.push(`# exit code ${exitCode}`);
      else printed[printed.length - 1] = `${printed.at(-1)}   # exit code ${exitCode}`;
    }
    const [from, to] = step.outputLines;
    lines.splice(from, to - from, ...printed);
    changed++;
  }
  await writeFile(README, lines.join('\n'));
  return changed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const report = await runTranscripts();
  if (process.argv.includes('--update')) {
    console.log(`updated ${await update(report.outcomes)} command(s) of ${report.checked}`);
  } else if (report.failures.length > 0) {
    console.error(report.failures.join('\n\n'));
    console.error(`\n${report.failures.length} of ${report.checked} README command(s) do not match`);
    process.exitCode = 1;
  } else {
    console.log(`${report.checked} README command(s) match what they print`);
  }
}
