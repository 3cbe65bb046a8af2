/**
 * The embedded server's Unix socket lives in its data folder; a socket path past the kernel's limit would
 * stop PostgreSQL from starting, so a long folder means TCP only (no socket URL).
 */
import { describe, expect, it } from 'vitest';
import { unixSocketUrl } from '../../src/db/embedded.ts';

describe('unixSocketUrl', () => {
  it('points pg at the data folder, with the credentials in the query', () => {
    const url = unixSocketUrl('/tmp/tenantry-x/pg', 54321, 'postgres', 'p@ss word');
    expect(url).toBeDefined();
    const parsed = new URL(url ?? '');
    expect(parsed.hostname).toBe('');
    expect(parsed.searchParams.get('host')).toBe('/tmp/tenantry-x/pg');
    expect(parsed.searchParams.get('port')).toBe('54321');
    expect(parsed.searchParams.get('password')).toBe('p@ss word');
  });

  it('gives none when the socket path would be too long for the kernel', () => {
    expect(unixSocketUrl(`/tmp/${'x'.repeat(120)}/pg`, 54321, 'postgres', 'p')).toBeUndefined();
  });
});
