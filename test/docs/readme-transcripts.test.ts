/**
 * The README's examples are what the product prints (issue 20): every `console` block with commands is
 * run against a fresh development server by scripts/readme-transcripts.ts and compared with the README.
 * The parser and matcher are tested on their own first, so a broken checker cannot pass everything.
 */
import { describe, expect, it } from 'vitest';
import { matches, normalise, parseTranscripts, runTranscripts } from '../../scripts/readme-transcripts.ts';

describe('the transcript checker', () => {
  it('refuses a console block with commands that is not marked as a transcript', () => {
    expect(() => parseTranscripts('text\n\n```console\n$ curl -s localhost:8000/\n{}\n```\n')).toThrow(
      /README.md:3: a console block with commands must be marked/,
    );
    expect(parseTranscripts('```console\nTenantry is running\n```\n')).toEqual([]);
  });

  it('reads commands, continuation lines, outputs, exit codes, comments and hidden set-up', () => {
    const [block] = parseTranscripts(
      [
        '<!-- transcript setup: echo staged -->',
        '<!-- transcript -->',
        '```console',
        '$ npm run -s tenantry -- tenants show nobody   # a comment',
        'tenantry: tenant "nobody" does not exist   # exit code 2',
        '$ curl -s localhost:8000/ \\',
        "    -H 'a: b'",
        '{"name":"Tenantry"}    # prose for the reader',
        '```',
      ].join('\n'),
    );
    expect(block?.setup).toEqual(['echo staged']);
    expect(block?.steps.map((s) => [s.command, s.expected, s.exitCode])).toEqual([
      [
        'npm run -s tenantry -- tenants show nobody   # a comment',
        ['tenantry: tenant "nobody" does not exist'],
        2,
      ],
      ["curl -s localhost:8000/ \\\n    -H 'a: b'", ['{"name":"Tenantry"}'], 0],
    ]);
  });

  it('matches … within a line and across lines, placeholders for what varies, and nothing else', () => {
    expect(matches(['{"a":1,…,"z":2}'], ['{"a":1,"b":[3],"z":2}'])).toBe(true);
    expect(matches(['first', '…', 'last'], ['first', 'x', 'y', 'last'])).toBe(true);
    expect(matches(['first', '…', 'last'], ['first', 'last'])).toBe(true);
    expect(
      matches(['acme: 7f315a3921b2 → 644e2e7c091a in 118 ms'], ['acme: 7f315a3921b2 → 644e2e7c091a in 9 ms']),
    ).toBe(true);
    expect(
      matches(['created tenant acme_corp_016e584bc7d1'], ['created tenant acme_corp_4efdf4a38399']),
    ).toBe(true);
    // A revision is not a random suffix: a different one is a difference.
    expect(matches(['acme: at 7f315a3921b2'], ['acme: at 644e2e7c091a'])).toBe(false);
    expect(matches(['{"status":"ok"}'], ['{"status":"failed"}'])).toBe(false);
    expect(matches(['one'], ['one', 'two'])).toBe(false);
    expect(normalise('2026-12-03T14:09:45.203Z 8276eb0a-36d2-481c-b33a-6ddd55c44b05')).toBe('<time> <uuid>');
  });
});

describe('README.md', () => {
  it('every transcript prints what the README shows', { timeout: 1_200_000 }, async () => {
    const report = await runTranscripts();
    expect(report.checked).toBeGreaterThan(50);
    expect(report.failures.join('\n\n')).toBe('');
  });
});
