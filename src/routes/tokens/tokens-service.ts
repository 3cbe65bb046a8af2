/**
 * Rules of API tokens (issue 19, src/auth/api-tokens.ts): a token's scopes are a subset of its creator's
 * permissions (asking for more → 403 naming them); it expires within 366 days (default 90); each user
 * lists and revokes their own, a holder of USER_EDIT (OWNER, ADMIN) those of everyone in the tenant.
 * Someone else's token is a 404 to a user who may not see it.
 */
import { issueApiToken } from '../../auth/api-tokens.ts';
import type { Permission } from '../../auth/permissions.ts';
import type { AnyDb } from '../../db/hosts.ts';
import { problems } from '../../http/problem.ts';
import { type Page, pageOf } from '../auth/schemas.ts';
import type { CreateTokenBody, TokenBody } from './schemas.ts';
import { type TokenRow, TokensRepository } from './tokens-repository.ts';

const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 366;
/** Who sees and revokes every user's tokens. */
export const TOKEN_ADMIN: Permission = 'USER_EDIT';

export interface TokenActor {
  id: string;
  permissions: ReadonlySet<Permission>;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function tokenBody(row: TokenRow): TokenBody {
  return {
    uuid: row.uuid,
    name: row.name,
    scopes: row.scopes,
    owner: { uuid: row.owner_uuid, email: row.owner_email },
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    last_used_at: iso(row.last_used_at),
    revoked_at: iso(row.revoked_at),
  };
}

function expiryOf(requested: string | undefined): Date {
  if (requested === undefined) return new Date(Date.now() + DEFAULT_TOKEN_DAYS * DAY_MS);
  const at = new Date(requested);
  if (at.getTime() <= Date.now())
    throw problems.unprocessable('expires_at must be in the future', [
      { path: '/body/expires_at', message: 'must be in the future' },
    ]);
  if (at.getTime() > Date.now() + MAX_TOKEN_DAYS * DAY_MS)
    throw problems.unprocessable(`expires_at must be at most ${MAX_TOKEN_DAYS} days ahead`, [
      { path: '/body/expires_at', message: `must be at most ${MAX_TOKEN_DAYS} days ahead` },
    ]);
  return at;
}

export class TokensService {
  private readonly repo: TokensRepository;

  constructor(db: AnyDb) {
    this.repo = new TokensRepository(db);
  }

  async create(input: CreateTokenBody, actor: TokenActor): Promise<TokenBody & { token: string }> {
    const beyond = input.scopes.filter((scope) => !actor.permissions.has(scope));
    if (beyond.length > 0)
      throw problems.forbidden(`A token cannot have permissions you do not hold: ${beyond.join(', ')}`);
    const expiresAt = expiryOf(input.expires_at);
    const { token, hash } = issueApiToken();
    const uuid = await this.repo.insert({
      userId: actor.id,
      name: input.name.trim(),
      hash,
      scopes: [...input.scopes].sort(),
      expiresAt,
    });
    const row = await this.repo.find(uuid);
    if (!row) throw new Error('a created token vanished');
    return { ...tokenBody(row), token };
  }

  async page(
    actor: TokenActor,
    query: { page: number; size: number; revoked: boolean },
  ): Promise<Page<TokenBody>> {
    const { rows, total } = await this.repo.page({
      userId: actor.permissions.has(TOKEN_ADMIN) ? null : actor.id,
      live: !query.revoked,
      offset: (query.page - 1) * query.size,
      limit: query.size,
    });
    return pageOf(rows.map(tokenBody), total, query.page, query.size);
  }

  /** Revokes (idempotent: revoking a revoked token again is fine). */
  async revoke(uuid: string, actor: TokenActor): Promise<void> {
    const row = await this.repo.find(uuid);
    if (!row || (row.user_id !== actor.id && !actor.permissions.has(TOKEN_ADMIN)))
      throw problems.notFound('token', uuid);
    await this.repo.revoke(uuid);
  }
}
