/** `--action list_dbs`: the databases on the server, as the predecessor listed them. */
import { withClient } from './connection.ts';

export interface DatabaseRow {
  name: string;
  sizeBytes: number;
  owner: string;
  encoding: string;
}

export async function listDatabases(url: string): Promise<DatabaseRow[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string; size: string; owner: string; encoding: string }>(
      `SELECT datname AS name, pg_database_size(oid)::text AS size, pg_get_userbyid(datdba) AS owner,
              pg_encoding_to_char(encoding) AS encoding
         FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname`,
    );
    return rows.map((row) => ({ ...row, sizeBytes: Number(row.size) }));
  });
}
