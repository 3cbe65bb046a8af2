/**
 * Checks a JSON schema cannot express cheaply: a time zone the runtime knows. Answered 422 with the
 * field's path, like every rule beyond the schema.
 */
import { problems } from '../../http/problem.ts';

let zones: ReadonlySet<string> | undefined;

export function isTimeZone(name: string): boolean {
  zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return zones.has(name);
}

export function assertTimeZone(name: string | undefined, path: string): void {
  if (name !== undefined && !isTimeZone(name))
    throw problems.unprocessable(`Unknown time zone ${JSON.stringify(name)}`, [
      { path, message: 'is not an IANA time zone name' },
    ]);
}
