/**
 * A revision's `up` or `down` as ONE SQL script, so the runner sends it in one round trip instead of one
 * per statement (issue 8: tenant creation was 45 round trips, 38 of them the revisions' statements).
 *
 * The revision runs once against a recording handle: a Kysely whose connection executes nothing and keeps
 * the compiled statements, parameters inlined as literals (sql-literals.ts). The runner then executes the
 * statements, joined, as one simple-protocol query in its transaction: same statements, same order, same
 * transaction, so the same schema. Statements stop at the first error and the transaction is rolled back,
 * as before.
 *
 * This is only right for a revision whose statements do not depend on what earlier statements returned.
 * The recording cannot know what a revision does with a result, so it refuses (returns `null`, and the
 * runner runs the revision statement by statement on the real connection) as soon as the revision looks at
 * one: reading `rows` or the affected-row counts of any result throws inside the revision. It refuses too
 * for streams, nested transactions, a parameter it cannot inline faithfully, and anything the revision
 * throws.
 */
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import type { AnyDb } from '../db/hosts.ts';
import type { MigrationContext, MigrationFunction } from './migration-set.ts';
import { inlineParameters } from './sql-literals.ts';

/** Thrown into a revision that reads a result during recording (it cannot be recorded). */
class ResultReadDuringRecording extends Error {
  override name = 'ResultReadDuringRecording';
}

class Recording {
  readonly statements: string[] = [];
  /** Why the revision cannot be recorded, once something showed it. */
  refused: string | null = null;

  refuse(reason: string): never {
    this.refused ??= reason;
    throw new ResultReadDuringRecording(reason);
  }

  /** A result that refuses the recording when the revision reads it. */
  result(): QueryResult<never> {
    const refuse = (what: string) => () => this.refuse(`read the ${what} of a statement's result`);
    return Object.defineProperties({} as QueryResult<never>, {
      rows: { get: refuse('rows'), enumerable: true },
      numAffectedRows: { get: refuse('affected-row count'), enumerable: true },
      numChangedRows: { get: refuse('changed-row count'), enumerable: true },
      insertId: { get: refuse('insert id'), enumerable: true },
    });
  }
}

function recordingDriver(recording: Recording): Driver {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      const text = inlineParameters(query.sql, query.parameters);
      if (text === null) recording.refuse('used a parameter that cannot be inlined as a literal');
      recording.statements.push(text);
      return recording.result();
    },
    // biome-ignore lint/correctness/useYield: refuses before producing anything.
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      recording.refuse('streamed a query');
    },
  };
  return {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => recording.refuse('opened a transaction of its own'),
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
}

/**
 * The statements `fn` would execute, as one script (`;`-separated), or `null` when it cannot be recorded
 * (see the module comment). An empty string means the revision executes nothing.
 */
export async function recordScript(fn: MigrationFunction, context: MigrationContext): Promise<string | null> {
  const recording = new Recording();
  const db: AnyDb = new Kysely({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => recordingDriver(recording),
      createIntrospector: (kysely) => new PostgresIntrospector(kysely),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  try {
    await fn(db, context);
  } catch {
    // A revision that throws while recording (whatever the reason) runs the ordinary way, where a real
    // error surfaces with its real cause.
    return null;
  }
  if (recording.refused !== null) return null;
  // The newline before each `;` keeps it out of a `--` comment that ends a statement.
  return recording.statements.join('\n;\n');
}
