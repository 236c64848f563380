// Where a recipient goes (RFC 5321 §2.4, §4.5.1): local principals through aliases, subaddresses and
// groups, remote domains, internal-relay domains, refusals, and postmaster. The router runs here on
// a directory kept in memory, so these tests need no store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Directory, DomainOwner, Principal } from '../../src/directory/directory.ts';
import { routeRecipient, type RouteResult } from '../../src/flow/router.ts';

type Kind = Principal['kind'];

/** The lookups the router makes, answered from tables; addresses are looked up lower-cased, as the directory stores them. */
function memoryDirectory(setup: {
  domains: Record<string, DomainOwner['kind']>;
  principals: {
    address: string;
    kind?: Kind;
    role?: Principal['role'];
    tenantId?: number;
    aliases?: string[];
    members?: string[];
  }[];
}): Directory {
  const principals = setup.principals.map((p, i) => ({
    principal: {
      id: i + 1,
      tenantId: p.tenantId ?? 1,
      kind: p.kind ?? 'user',
      address: p.address,
      displayName: null,
      role: p.role ?? 'user',
    } as Principal,
    aliases: p.aliases ?? [],
    members: p.members ?? [],
  }));
  const byAddress = new Map(
    principals.flatMap((entry) => [entry.principal.address, ...entry.aliases].map((a) => [a, entry] as const)),
  );
  const directory = {
    findDomain: async (domain: string) => {
      const kind = setup.domains[domain.toLowerCase()];
      return kind && { name: domain.toLowerCase(), kind, tenantId: 1 };
    },
    resolveAddress: async (address: string) => {
      const entry = byAddress.get(address.toLowerCase());
      return (
        entry && {
          address: address.toLowerCase(),
          tenantId: entry.principal.tenantId,
          principal: entry.principal,
          viaAlias: entry.principal.address !== address.toLowerCase(),
        }
      );
    },
    tenantOfDomain: async () => ({ expandGroup: async (group: string) => byAddress.get(group)!.members }),
    administrators: async (tenantId: number | null) =>
      principals
        .map((e) => e.principal)
        .filter((p) =>
          tenantId === null
            ? p.role === 'global-admin'
            : p.tenantId === tenantId && (p.role === 'tenant-admin' || p.role === 'global-admin'),
        ),
  };
  return directory as unknown as Directory;
}

const hostname = 'mx.holdfast.example';

const directory = memoryDirectory({
  domains: { 'example.org': 'authoritative', 'relay.example.org': 'internal-relay' },
  principals: [
    { address: 'alice@example.org', aliases: ['a.smith@example.org'] },
    { address: 'bob@example.org' },
    { address: 'bob+lists@example.org' },
    { address: 'room1@example.org', kind: 'room' },
    { address: 'admin@example.org', role: 'tenant-admin' },
    { address: 'root@example.org', role: 'global-admin' },
    {
      address: 'team@example.org',
      kind: 'group',
      members: [
        'alice@example.org',
        'room1@example.org',
        'partner@remote.example',
        'gone@example.org',
        'ext@relay.example.org',
      ],
    },
  ],
});

const route = (address: string, dir: Directory = directory) => routeRecipient(dir, address, 7, hostname);
/** The delivery addresses of a result, with their routes. */
const targets = (result: RouteResult) =>
  'recipients' in result ? result.recipients.map((r) => `${r.route}:${r.recipient}`) : [];

describe('Routing: local recipients', () => {
  it('delivers to a principal by its primary address or an alias, in any case', async () => {
    for (const address of ['alice@example.org', 'ALICE@Example.ORG', 'a.smith@example.org', ' alice@example.org ']) {
      const result = await route(address);
      assert.equal(result.kind, 'local', address);
      assert.deepEqual(targets(result), ['local:alice@example.org'], address);
    }
  });

  it('delivers user+tag to the user, unless user+tag exists in its own right', async () => {
    assert.deepEqual(targets(await route('alice+receipts@example.org')), ['local:alice@example.org']);
    assert.deepEqual(targets(await route('Alice+Receipts@example.org')), ['local:alice@example.org']);
    assert.deepEqual(targets(await route('bob+lists@example.org')), ['local:bob+lists@example.org']);
    assert.deepEqual(targets(await route('bob+other@example.org')), ['local:bob@example.org']);
  });

  it('refuses an unknown address of an authoritative domain, a leading "+" being no subaddress', async () => {
    assert.deepEqual(await route('nobody@example.org'), { kind: 'unknown', tenantId: 1 });
    assert.deepEqual(await route('nobody+tag@example.org'), { kind: 'unknown', tenantId: 1 });
    assert.deepEqual(await route('+alice@example.org'), { kind: 'unknown', tenantId: 1 });
  });

  it('expands a group once into its mailboxes and remote members, skipping unknown addresses of our own domains', async () => {
    const result = await route('team@example.org');
    assert.equal(result.kind, 'local');
    assert.deepEqual(targets(result).sort(), [
      'local:alice@example.org',
      'local:room1@example.org',
      'remote:ext@relay.example.org',
      'remote:partner@remote.example',
    ]);
  });
});

describe('Routing: remote and relay recipients', () => {
  it("sends an address of a domain not ours to the internet, with the sender's tenant", async () => {
    const result = await route('carol@remote.example');
    assert.deepEqual(result, {
      kind: 'remote',
      domain: 'remote.example',
      ownDomain: false,
      recipients: [{ recipient: 'carol@remote.example', route: 'remote', domain: 'remote.example', tenantId: 7 }],
    });
  });

  it('compares domains without regard to case (RFC 5321 §2.4)', async () => {
    const result = await route('carol@Remote.EXAMPLE');
    assert.equal(result.kind === 'remote' && result.domain, 'remote.example');
  });

  it('keeps the case of a remote local part (RFC 5321 §2.4: local parts MUST be treated as case sensitive)', async () => {
    assert.deepEqual(targets(await route('Bob.Smith@Remote.example')), ['remote:Bob.Smith@remote.example']);
  });

  it('passes unknown addresses of an internal-relay domain on, as our own domain', async () => {
    const result = await route('someone@relay.example.org');
    assert.equal(result.kind, 'remote');
    assert.equal(result.kind === 'remote' && result.ownDomain, true);
    assert.deepEqual(result.kind === 'remote' && result.recipients[0]!.tenantId, 1);
  });

  it('refuses what is not an address', async () => {
    for (const address of ['no-at-sign', '@example.org', 'alice@', 'a b@example.org'])
      await assert.rejects(route(address), /not a valid email address/, address);
  });
});

describe('Routing: postmaster (RFC 5321 §4.5.1)', () => {
  it("takes postmaster@ an authoritative domain for its tenant's administrators, in any case", async () => {
    for (const address of ['postmaster@example.org', 'PostMaster@Example.org']) {
      const result = await route(address);
      assert.equal(result.kind, 'postmaster', address);
      assert.deepEqual(targets(result).sort(), ['local:admin@example.org', 'local:root@example.org']);
    }
  });

  it('takes bare "postmaster", and postmaster@ and MAILER-DAEMON@ the host name, for the global administrators', async () => {
    for (const address of [
      'postmaster',
      'Postmaster',
      'postmaster@mx.holdfast.example',
      'MAILER-DAEMON@mx.holdfast.example',
    ]) {
      const result = await route(address);
      assert.equal(result.kind, 'postmaster', address);
      assert.deepEqual(targets(result), ['local:root@example.org'], address);
    }
  });

  it('refuses bare "postmaster" when the host name is not known', async () => {
    await assert.rejects(routeRecipient(directory, 'postmaster'), /not a valid email address/);
  });

  it('delivers to a postmaster that exists in its own right', async () => {
    const own = memoryDirectory({
      domains: { 'example.org': 'authoritative' },
      principals: [{ address: 'postmaster@example.org' }, { address: 'root@example.org', role: 'global-admin' }],
    });
    assert.deepEqual(targets(await route('postmaster@example.org', own)), ['local:postmaster@example.org']);
  });

  it('falls back to the global administrators, and refuses when there are none at all', async () => {
    const globalOnly = memoryDirectory({
      domains: { 'example.org': 'authoritative' },
      principals: [{ address: 'root@example.org', role: 'global-admin', tenantId: 2 }],
    });
    assert.deepEqual(targets(await route('postmaster@example.org', globalOnly)), ['local:root@example.org']);
    const nobody = memoryDirectory({ domains: { 'example.org': 'authoritative' }, principals: [] });
    assert.equal((await route('postmaster@example.org', nobody)).kind, 'unknown');
    assert.equal((await route('postmaster', nobody)).kind, 'unknown');
  });
});
