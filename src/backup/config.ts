/**
 * The backup tool's configuration: the predecessor's INI file (`--configfile`, SPEC 8) with environment
 * variables layered on top. Every variable in BACKUP_ENVIRONMENT overrides the INI key beside it; keep
 * the table in docs/backup.md in sync with it.
 *
 * Without a config file the tool stores backups in `<DATA_DIR>/backups` and talks to the same database as
 * the rest of the CLI (DATABASE_URL or the embedded server); a file without a [postgresql] section does
 * the same for the database.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { IniSyntaxError, parseIni } from './ini.ts';

export type StorageConfig =
  | { engine: 'LOCAL'; path: string }
  | {
      engine: 'S3';
      bucket: string;
      /** Key prefix, '' or ending with '/'. */
      prefix: string;
      region: string;
      /** For S3-compatible servers (MinIO, Ceph, s3rver …); undefined → AWS. */
      endpoint: string | undefined;
      forcePathStyle: boolean;
      /** undefined → the AWS SDK's default chain (AWS_PROFILE, instance roles …). */
      credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    };

export interface PostgresSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
}

export interface BackupConfig {
  /** Where the settings came from, for messages. */
  source: string;
  storage: StorageConfig;
  /** The server from [postgresql]; undefined → DATABASE_URL or the embedded server. */
  postgres: PostgresSettings | undefined;
  /** Folder holding pg_dump, pg_restore and psql; undefined → found on PATH. */
  pgBinDir: string | undefined;
}

/** Environment variable → [section] key it overrides. */
export const BACKUP_ENVIRONMENT = {
  TENANTRY_BACKUP_STORAGE_ENGINE: ['setup', 'storage_engine'],
  TENANTRY_PG_BIN_DIR: ['setup', 'pg_bin_dir'],
  TENANTRY_BACKUP_LOCAL_PATH: ['local_storage', 'path'],
  TENANTRY_BACKUP_S3_BUCKET: ['s3', 'bucket_name'],
  TENANTRY_BACKUP_S3_PREFIX: ['s3', 'bucket_backup_path'],
  TENANTRY_BACKUP_S3_REGION: ['s3', 'region'],
  TENANTRY_BACKUP_S3_ENDPOINT: ['s3', 'endpoint'],
  TENANTRY_BACKUP_S3_FORCE_PATH_STYLE: ['s3', 'force_path_style'],
  AWS_ACCESS_KEY_ID: ['s3', 'access_key_id'],
  AWS_SECRET_ACCESS_KEY: ['s3', 'secret_access_key'],
  TENANTRY_BACKUP_PG_HOST: ['postgresql', 'host'],
  TENANTRY_BACKUP_PG_PORT: ['postgresql', 'port'],
  TENANTRY_BACKUP_PG_DB: ['postgresql', 'db'],
  TENANTRY_BACKUP_PG_USER: ['postgresql', 'user'],
  TENANTRY_BACKUP_PG_PASSWORD: ['postgresql', 'password'],
} as const satisfies Record<string, readonly [string, string]>;

export class BackupConfigError extends Error {
  override name = 'BackupConfigError';
}

type Env = Record<string, string | undefined>;

export async function loadBackupConfig(
  configFile: string | undefined,
  env: Env,
  dataDir: string,
): Promise<BackupConfig> {
  let text: string | undefined;
  if (configFile !== undefined) {
    try {
      text = await readFile(configFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BackupConfigError(`cannot read config file ${configFile} (${code ?? String(error)})`);
    }
  }
  return backupConfigFrom(text, configFile, env, dataDir);
}

/** `text` undefined → no config file: defaults plus the environment. */
export function backupConfigFrom(
  text: string | undefined,
  configFile: string | undefined,
  env: Env,
  dataDir: string,
): BackupConfig {
  const source = configFile ?? 'defaults (no --configfile)';
  let sections: Map<string, Map<string, string>>;
  try {
    sections = text === undefined ? new Map() : parseIni(text, source);
  } catch (error) {
    if (error instanceof IniSyntaxError) throw new BackupConfigError(error.message);
    throw error;
  }
  const fromFile = new Set(sections.keys());
  for (const [variable, [section, key]] of Object.entries(BACKUP_ENVIRONMENT)) {
    const value = env[variable]?.trim();
    if (value === undefined || value === '') continue;
    const values = sections.get(section) ?? new Map<string, string>();
    values.set(key, value);
    sections.set(section, values);
  }
  const get = (section: string, key: string): string | undefined => {
    const value = sections.get(section)?.get(key)?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (message: string) => new BackupConfigError(`${source}: ${message}`);
  // Relative paths are relative to the config file, so a cron job's working directory does not matter.
  const baseDir = configFile === undefined ? process.cwd() : path.dirname(path.resolve(configFile));

  if (text !== undefined && !fromFile.has('setup')) {
    throw problem('missing [setup] section (it names the storage_engine: LOCAL or S3)');
  }
  const engine = (get('setup', 'storage_engine') ?? 'LOCAL').toUpperCase();
  let storage: StorageConfig;
  if (engine === 'LOCAL') {
    const folder = get('local_storage', 'path');
    if (folder === undefined && text !== undefined) {
      throw problem(
        'storage_engine is LOCAL but there is no [local_storage] section with a path (or set TENANTRY_BACKUP_LOCAL_PATH)',
      );
    }
    storage = { engine: 'LOCAL', path: path.resolve(baseDir, folder ?? path.join(dataDir, 'backups')) };
  } else if (engine === 'S3') {
    const bucket = get('s3', 'bucket_name');
    if (!sections.has('s3')) {
      throw problem('storage_engine is S3 but there is no [S3] section (or set TENANTRY_BACKUP_S3_BUCKET)');
    }
    if (bucket === undefined) throw problem('[S3] needs bucket_name (or set TENANTRY_BACKUP_S3_BUCKET)');
    let prefix = (get('s3', 'bucket_backup_path') ?? '').replace(/^\/+/, '');
    if (prefix !== '' && !prefix.endsWith('/')) prefix = `${prefix}/`;
    const endpoint = get('s3', 'endpoint');
    if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
      throw problem(`[S3] endpoint ${JSON.stringify(endpoint)} is not an http(s):// URL`);
    }
    const accessKeyId = get('s3', 'access_key_id');
    const secretAccessKey = get('s3', 'secret_access_key');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw problem('[S3] access_key_id and secret_access_key must be given together');
    }
    storage = {
      engine: 'S3',
      bucket,
      prefix,
      region: get('s3', 'region') ?? env.AWS_REGION ?? 'us-east-1',
      endpoint,
      forcePathStyle: parseBoolean(get('s3', 'force_path_style'), endpoint !== undefined, problem),
      credentials:
        accessKeyId !== undefined && secretAccessKey !== undefined
          ? { accessKeyId, secretAccessKey }
          : undefined,
    };
  } else {
    throw problem(`unknown storage_engine ${JSON.stringify(engine)} in [setup]: expected LOCAL or S3`);
  }

  let postgres: PostgresSettings | undefined;
  if (sections.has('postgresql')) {
    const missing = ['host', 'db', 'user'].filter((key) => get('postgresql', key) === undefined);
    if (missing.length > 0) throw problem(`[postgresql] is missing ${missing.join(', ')}`);
    const rawPort = get('postgresql', 'port') ?? '5432';
    const port = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) {
      throw problem(`[postgresql] port ${JSON.stringify(rawPort)} is not a port number`);
    }
    postgres = {
      host: get('postgresql', 'host')!,
      port,
      database: get('postgresql', 'db')!,
      user: get('postgresql', 'user')!,
      password: sections.get('postgresql')?.get('password'),
    };
  }
  const binDir = get('setup', 'pg_bin_dir');
  return {
    source,
    storage,
    postgres,
    pgBinDir: binDir === undefined ? undefined : path.resolve(baseDir, binDir),
  };
}

function parseBoolean(raw: string | undefined, fallback: boolean, problem: (m: string) => Error): boolean {
  if (raw === undefined) return fallback;
  if (/^(true|yes|1|on)$/i.test(raw)) return true;
  if (/^(false|no|0|off)$/i.test(raw)) return false;
  throw problem(`[S3] force_path_style ${JSON.stringify(raw)}: expected true or false`);
}

/** A libpq URL for the [postgresql] settings (the password travels separately, see pg-tools.ts). */
export function postgresUrl(settings: PostgresSettings): string {
  const url = new URL('postgres://localhost');
  url.hostname = settings.host;
  url.port = String(settings.port);
  url.username = settings.user;
  if (settings.password !== undefined) url.password = settings.password;
  url.pathname = `/${encodeURIComponent(settings.database)}`;
  return url.toString();
}
