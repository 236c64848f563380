// DKIM keys per domain: generated when first needed (2048-bit RSA), rotated on request. The DNS
// record to publish is "<selector>._domainkey.<domain> TXT v=DKIM1; k=rsa; p=<public key>".
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';

const generate = promisify(generateKeyPair);

export interface DkimKey {
  domain: string;
  selector: string;
  privateKey: string;
  /** The p= value: the public key, base64 DER, as published in DNS. */
  publicKeyData: string;
  createdAt: number;
}

export const dnsRecordName = (key: DkimKey) => `${key.selector}._domainkey.${key.domain}`;
export const dnsRecordValue = (key: DkimKey) => `v=DKIM1; k=rsa; p=${key.publicKeyData}`;

export class DkimKeys {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The active key of a domain, created on first use. */
  async active(domain: string): Promise<DkimKey> {
    const domainId = await this.domainId(domain);
    const row = await this.db
      .selectFrom('dkim_keys')
      .selectAll()
      .where('domain_id', '=', domainId)
      .where('active', '=', 1)
      .executeTakeFirst();
    if (row) return toKey(domain, row);
    try {
      return await this.create(domain, domainId);
    } catch (error) {
      // Another session created it at the same moment: use theirs.
      const created = await this.db
        .selectFrom('dkim_keys')
        .selectAll()
        .where('domain_id', '=', domainId)
        .where('active', '=', 1)
        .executeTakeFirst();
      if (created) return toKey(domain, created);
      throw error;
    }
  }

  /** A new key with a new selector becomes active; the old one stays published until you remove it. */
  async rotate(domain: string): Promise<DkimKey> {
    const domainId = await this.domainId(domain);
    return this.create(domain, domainId);
  }

  async list(domain: string): Promise<(DkimKey & { active: boolean })[]> {
    const domainId = await this.domainId(domain);
    const rows = await this.db
      .selectFrom('dkim_keys')
      .selectAll()
      .where('domain_id', '=', domainId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ ...toKey(domain, r), active: r.active === 1 }));
  }

  private async create(domain: string, domainId: number): Promise<DkimKey> {
    const { privateKey, publicKey } = await generate('rsa', { modulusLength: 2048 });
    const now = this.now();
    const stamp = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
    const existing = await this.db
      .selectFrom('dkim_keys')
      .select('selector')
      .where('domain_id', '=', domainId)
      .execute();
    let selector = `hf${stamp}`;
    for (let n = 2; existing.some((e) => e.selector === selector); n++) selector = `hf${stamp}n${n}`;
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicData = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('dkim_keys').set({ active: 0 }).where('domain_id', '=', domainId).execute();
      await trx
        .insertInto('dkim_keys')
        .values({
          domain_id: domainId,
          selector,
          private_key: privatePem,
          public_key: publicData,
          active: 1,
          created_at: now,
        })
        .execute();
    });
    return { domain, selector, privateKey: privatePem, publicKeyData: publicData, createdAt: now };
  }

  private async domainId(domain: string): Promise<number> {
    const row = await this.db
      .selectFrom('domains')
      .select('id')
      .where('name', '=', domain.toLowerCase())
      .executeTakeFirst();
    if (!row) throw notFound('unknown-domain', `unknown domain "${domain}"`);
    return row.id;
  }
}

function toKey(
  domain: string,
  row: { selector: string; private_key: string; public_key: string; created_at: number },
): DkimKey {
  return {
    domain,
    selector: row.selector,
    privateKey: row.private_key,
    publicKeyData: row.public_key,
    createdAt: Number(row.created_at),
  };
}
