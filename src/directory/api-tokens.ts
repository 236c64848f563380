// API tokens: what scripts and monitoring use instead of an administrator's password (HTTP
// `Authorization: Bearer <token>`), and the app tokens users give their JMAP clients instead of their
// password. A token acts as the principal it was made for, with that principal's role, and only
// where its scope says: `admin` tokens on the admin and health API, `jmap` tokens on JMAP (neither
// opens the other). Only its SHA-256 is stored, the token itself is shown once.
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { invalid, notFound } from '../errors.ts';
import type { ApiTokenScope, Database } from '../store/schema.ts';
import type { Directory, Principal } from './directory.ts';

export type { ApiTokenScope } from '../store/schema.ts';

export interface ApiToken {
  id: number;
  principal: string;
  name: string;
  scope: ApiTokenScope;
  createdAt: number;
  lastUsedAt: number | null;
}

const tokenPrefix = 'hf_';
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** The login limiter's account key of a bearer token: its first characters, enough to tell tokens apart, never the secret. */
export const tokenAccount = (token: string) => `api-token:${token.slice(0, 11)}`;

/** The bearer token of an `Authorization: Bearer` header, or undefined. */
export const parseBearerAuthorization = (header: string | undefined) => /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];

/** How often a token's last use is written (not at every request: JMAP clients make many). */
const lastUsedResolutionMs = 60_000;

export class ApiTokens {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly directory: Directory,
    private readonly now: () => number,
  ) {}

  /**
   * Makes a token; returns it once, in clear. An `admin` token is for an administrator; a `jmap`
   * token (an app token) for any principal that has a mailbox.
   */
  async create(
    address: string,
    name: string,
    scope: ApiTokenScope = 'admin',
  ): Promise<{ token: string; info: ApiToken }> {
    const resolved = await this.directory.resolveAddress(address);
    const principal = resolved?.principal;
    if (!principal || principal.address !== address.trim().toLowerCase())
      throw notFound('no-such-principal', `no user ${address}`);
    if (scope === 'admin' && principal.role === 'user')
      throw invalid(
        'not-an-admin',
        `${principal.address} is not an administrator; admin tokens are for global or tenant administrators (an app token for JMAP is --scope jmap)`,
      );
    if (scope === 'jmap' && principal.kind === 'group')
      throw invalid('not-a-mailbox', `${principal.address} is a group: it has no mailbox to open with JMAP`);
    return this.insert(principal, name, scope);
  }

  /** Makes an app token (scope `jmap`) for a signed-in principal (the JMAP token endpoint); returns it once. */
  async createFor(principal: Principal, name: string): Promise<{ token: string; info: ApiToken }> {
    return this.insert(principal, name, 'jmap');
  }

  private async insert(principal: Principal, name: string, scope: ApiTokenScope) {
    const token = `${tokenPrefix}${randomBytes(32).toString('base64url')}`;
    const at = this.now();
    const row = await this.db
      .insertInto('api_tokens')
      .values({
        principal_id: principal.id,
        name: name.trim() || 'token',
        token_hash: hashOf(token),
        created_at: at,
        last_used_at: null,
        scope,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return {
      token,
      info: {
        id: Number(row.id),
        principal: principal.address,
        name: name.trim() || 'token',
        scope,
        createdAt: at,
        lastUsedAt: null,
      },
    };
  }

  /** Every token, or one principal's. */
  async list(principalId?: number): Promise<ApiToken[]> {
    const rows = await this.db
      .selectFrom('api_tokens as k')
      .innerJoin('principals as p', 'p.id', 'k.principal_id')
      .select(['k.id', 'p.address', 'k.name', 'k.scope', 'k.created_at', 'k.last_used_at'])
      .$if(principalId !== undefined, (q) => q.where('k.principal_id', '=', principalId!))
      .orderBy('k.id')
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      principal: r.address,
      name: r.name,
      scope: r.scope,
      createdAt: Number(r.created_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    }));
  }

  /** Revokes a token at once (the next request with it is refused); `principalId`: only one of theirs. */
  async revoke(id: number, principalId?: number): Promise<void> {
    const result = await this.db
      .deleteFrom('api_tokens')
      .where('id', '=', id)
      .$if(principalId !== undefined, (q) => q.where('principal_id', '=', principalId!))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('no-such-token', `no API token ${id}`);
  }

  /**
   * The principal a token acts as where `scope` is asked, or undefined for an unknown (or revoked)
   * token or one of another scope. Read from the store at every request: a revoked token fails at once.
   */
  async principalOf(token: string, scope: ApiTokenScope = 'admin'): Promise<Principal | undefined> {
    if (!token.startsWith(tokenPrefix)) return undefined;
    const row = await this.db
      .selectFrom('api_tokens as k')
      .innerJoin('principals as p', 'p.id', 'k.principal_id')
      .select(['k.id', 'p.address', 'k.scope', 'k.last_used_at'])
      .where('k.token_hash', '=', hashOf(token))
      .executeTakeFirst();
    if (!row || row.scope !== scope) return undefined;
    const now = this.now();
    if (row.last_used_at === null || Number(row.last_used_at) < now - lastUsedResolutionMs)
      await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
    const principal = (await this.directory.resolveAddress(row.address))?.principal;
    // A disabled account's tokens stop working with it (and work again if it is enabled).
    return principal?.disabled ? undefined : principal;
  }
}
