/**
 * `tenantry tenants domains add|remove|list <id> [<domain>]` — the Host names that route to a tenant
 * (issue 21). Same rules as `POST/DELETE /cc/tenants/{id}/domains`; running servers learn each change
 * through LISTEN/NOTIFY at commit. Exit codes: 0 ok, 1 failed (taken), 2 bad arguments or no such tenant or domain.
 */
import type { Core } from '../core.ts';
import { InvalidDomainError } from '../tenancy/domain-name.ts';
import { DomainNotFoundError, DomainTakenError } from '../tenancy/domains.ts';
import { tenantIdProblem } from '../tenancy/tenant-id.ts';
import { TenantNotFoundError } from '../tenancy/tenant-service.ts';
import { CliError, EXIT, parseOptions, print, table, withCore } from './io.ts';

export const DOMAINS_HELP = `Usage: tenantry tenants domains <add|remove|list> <id> [<domain>] [--json]

  add <id> <domain>      route requests whose Host is <domain> to tenant <id>
  remove <id> <domain>   stop routing <domain> to tenant <id>
  list <id>              the tenant's domains

A domain is lower-cased and IDNA-normalised (Bäckerei.example → xn--bckerei-5wa.example); labels follow
RFC 1123; IP addresses, "localhost" and TENANT_BASE_DOMAIN itself are refused. A bare label (acme) means
acme.<TENANT_BASE_DOMAIN> when that is set, and the single-label host "acme" otherwise.
A domain belongs to one tenant at most; a tenant may have several.
`;

function domainError(error: unknown): unknown {
  if (error instanceof InvalidDomainError) return new CliError(error.message, EXIT.USAGE);
  if (error instanceof DomainNotFoundError || error instanceof TenantNotFoundError)
    return new CliError(error.message, EXIT.USAGE);
  if (error instanceof DomainTakenError) return new CliError(error.message, EXIT.FAILED);
  return error;
}

/** Normalises a domain before any database is opened: bad input is exit 2 at once. */
export function domainArgument(core: Pick<Core, 'domains'>, value: string): string {
  try {
    return core.domains.normalize(value);
  } catch (error) {
    throw domainError(error);
  }
}

export async function domainsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const [action, tenantId, domain, ...extra] = positionals;
  if (values.help || action === undefined || action === 'help') {
    print(DOMAINS_HELP);
    return values.help || action === 'help' ? EXIT.OK : EXIT.USAGE;
  }
  if (!['add', 'remove', 'list'].includes(action))
    throw new CliError(`unknown domains command "${action}"\n\n${DOMAINS_HELP}`, EXIT.USAGE);
  if (tenantId === undefined) throw new CliError(`tenants domains ${action} needs a tenant id`, EXIT.USAGE);
  const problem = tenantIdProblem(tenantId);
  if (problem) throw new CliError(`tenant id ${JSON.stringify(tenantId)}: ${problem}`, EXIT.USAGE);
  const wanted = action === 'list' ? 0 : 1;
  if ((domain === undefined ? 0 : 1) !== wanted || extra.length > 0) {
    throw new CliError(
      `tenants domains ${action} expects ${action === 'list' ? '<id>' : '<id> <domain>'}\n\n${DOMAINS_HELP}`,
      EXIT.USAGE,
    );
  }
  return withCore(async (core) => {
    try {
      if (action === 'list') {
        const rows = await core.domains.list(tenantId);
        if (values.json) {
          const items = rows.map((r) => ({ domain: r.domain, created_at: r.created_at.toISOString() }));
          print(JSON.stringify({ tenant_id: tenantId, items }, null, 2));
        } else if (rows.length === 0) print(`tenant ${tenantId} has no domains`);
        else
          print(
            table(
              ['DOMAIN', 'ADDED (UTC)'],
              rows.map((r) => [r.domain, r.created_at.toISOString().slice(0, 19).replace('T', ' ')]),
            ),
          );
        return EXIT.OK;
      }
      const normalized = domainArgument(core, domain!);
      if (action === 'add') {
        const { created } = await core.domains.add(tenantId, normalized);
        print(
          values.json
            ? JSON.stringify({ tenant_id: tenantId, domain: normalized, created })
            : created
              ? `added domain ${normalized} to tenant ${tenantId}`
              : `tenant ${tenantId} already has domain ${normalized}`,
        );
        return EXIT.OK;
      }
      await core.domains.remove(tenantId, normalized);
      print(
        values.json
          ? JSON.stringify({ tenant_id: tenantId, domain: normalized, removed: true })
          : `removed domain ${normalized} from tenant ${tenantId}`,
      );
      return EXIT.OK;
    } catch (error) {
      throw domainError(error);
    }
  });
}
