// API tokens: what scripts and monitoring use instead of an administrator's password (HTTP
// `Authorization: Bearer <token>`). A token acts as the principal it was made for, with that
// principal's role; only its SHA-256 is stored, the token itself is shown once.
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { invalid, notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import type { Directory, Principal } from './directory.ts';

export interface ApiToken {
  id: number;
  principal: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

const tokenPrefix = 'hf_';
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class ApiTokens {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly directory: Directory,
    private readonly now: () => number,
  ) {}

  /** Makes a token for an administrator; returns it once, in clear. */
  async create(address: string, name: string): Promise<{ token: string; info: ApiToken }> {
    const resolved = await this.directory.resolveAddress(address);
    const principal = resolved?.principal;
    if (!principal || principal.address !== address.trim().toLowerCase())
      throw notFound('no-such-principal', `no user ${address}`);
    if (principal.role === 'user')
      throw invalid(
        'not-an-admin',
        `${principal.address} is not an administrator; tokens are for global or tenant administrators`,
      );
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
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return {
      token,
      info: {
        id: Number(row.id),
        principal: principal.address,
        name: name.trim() || 'token',
        createdAt: at,
        lastUsedAt: null,
      },
    };
  }

  async list(): Promise<ApiToken[]> {
    const rows = await this.db
      .selectFrom('api_tokens as k')
      .innerJoin('principals as p', 'p.id', 'k.principal_id')
      .select(['k.id', 'p.address', 'k.name', 'k.created_at', 'k.last_used_at'])
      .orderBy('k.id')
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      principal: r.address,
      name: r.name,
      createdAt: Number(r.created_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    }));
  }

  async revoke(id: number): Promise<void> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('no-such-token', `no API token ${id}`);
  }

  /** The principal a token acts as, or undefined for an unknown (or revoked) token. */
  async principalOf(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(tokenPrefix)) return undefined;
    const row = await this.db
      .selectFrom('api_tokens as k')
      .innerJoin('principals as p', 'p.id', 'k.principal_id')
      .select(['k.id', 'p.address'])
      .where('k.token_hash', '=', hashOf(token))
      .executeTakeFirst();
    if (!row) return undefined;
    await this.db.updateTable('api_tokens').set({ last_used_at: this.now() }).where('id', '=', row.id).execute();
    const principal = (await this.directory.resolveAddress(row.address))?.principal;
    // A disabled account's tokens stop working with it (and work again if it is enabled).
    return principal?.disabled ? undefined : principal;
  }
}
