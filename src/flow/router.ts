// Where each recipient goes: a local mailbox (through aliases, plus-addressing and group expansion),
// or a remote domain (through a relay route or MX). Unknown addresses in authoritative domains are
// refused; internal-relay domains pass them on. Every server must take mail for its postmaster
// (RFC 5321 §4.5.1): postmaster@ each authoritative domain reaches the tenant's administrators, and
// the server's own names — bare "postmaster", postmaster@ and MAILER-DAEMON@ its host name (the
// sender of its bounces) — the global administrators, unless such an address exists in its own right.
// Our own addresses compare without regard to case; a remote address keeps its local part as given.
// A continuity domain (docs/continuity.md) is served by an upstream provider: mail to its known
// addresses is passed on to that upstream as a gateway does (the continuity copier, not the router,
// puts a copy into the mailbox during an event), so it routes as the domain's remote mail.
import type { ContinuitySettings } from '../config/schema.ts';
import type { Directory, Principal } from '../directory/directory.ts';
import { parseAddress } from '../directory/names.ts';

export interface RoutedRecipient {
  /** The address delivery uses: a local principal's primary address, or the remote address. */
  recipient: string;
  route: 'local' | 'remote';
  domain: string;
  tenantId: number | null;
  principal?: Principal;
}

export type RouteResult =
  | { kind: 'local'; tenantId: number; principal: Principal; recipients: RoutedRecipient[] }
  /** Postmaster mail, to administrators: always accepted (no quota check), like the RFC asks. */
  | { kind: 'postmaster'; tenantId: number; recipients: RoutedRecipient[] }
  | {
      kind: 'remote';
      domain: string;
      recipients: RoutedRecipient[] /** an internal-relay domain of ours, not the internet */;
      ownDomain: boolean;
    }
  | { kind: 'unknown'; tenantId: number };

const mailboxKinds = new Set(['user', 'shared', 'room', 'equipment']);

/**
 * The domains of the continuity upstreams: every route to their addresses — mail from outside,
 * submission, iMIP, DSNs, group members — takes this, so that their mail goes upstream like the rest.
 */
export function upstreamDomainsOf(continuity: Pick<ContinuitySettings, 'upstreams'>): ReadonlySet<string> {
  return new Set(continuity.upstreams.flatMap((u) => u.domains));
}

/**
 * `hostname` is the server's own name (config.hostname): with it, the server's postmaster names are
 * recognised, the bare "postmaster" included (which parseAddress alone refuses).
 */
export async function routeRecipient(
  directory: Directory,
  addressInput: string,
  senderTenantId: number | null = null,
  hostname?: string,
  /** Domains whose mail goes to a continuity upstream, even for addresses that have a mailbox here. */
  upstreamDomains?: ReadonlySet<string>,
): Promise<RouteResult> {
  const bare = hostname !== undefined && addressInput.trim().toLowerCase() === 'postmaster';
  const { address, local, domain, asGiven } = parseAddress(bare ? `postmaster@${hostname}` : addressInput);
  const serverName = domain === hostname && (local === 'postmaster' || local === 'mailer-daemon');
  const owner = await directory.findDomain(domain);
  if (!owner && !serverName)
    return {
      kind: 'remote',
      domain,
      ownDomain: false,
      recipients: [{ recipient: asGiven, route: 'remote', domain, tenantId: senderTenantId }],
    };

  // user+tag@domain reaches user@domain unless user+tag exists in its own right.
  const plus = local.indexOf('+');
  const resolved =
    (await directory.resolveAddress(address)) ??
    (plus > 0 ? await directory.resolveAddress(`${local.slice(0, plus)}@${domain}`) : undefined);
  if (!resolved) {
    if (serverName) return toAdministrators(directory, null);
    if (owner!.kind === 'internal-relay')
      return {
        kind: 'remote',
        domain,
        ownDomain: true,
        recipients: [{ recipient: asGiven, route: 'remote', domain, tenantId: owner!.tenantId }],
      };
    if (local === 'postmaster') return toAdministrators(directory, owner!.tenantId);
    return { kind: 'unknown', tenantId: owner!.tenantId };
  }
  const { principal } = resolved;
  if (upstreamDomains?.has(domain))
    return {
      kind: 'remote',
      domain,
      ownDomain: true,
      recipients: [{ recipient: asGiven, route: 'remote', domain, tenantId: principal.tenantId }],
    };
  if (principal.kind !== 'group') {
    return { kind: 'local', tenantId: principal.tenantId, principal, recipients: [localRecipient(principal)] };
  }
  // A group is expanded once here; each member is delivered (and limited) as one recipient of the group.
  const tenant = await directory.tenantOfDomain(domain);
  const members = await tenant.expandGroup(principal.address);
  const recipients: RoutedRecipient[] = [];
  for (const member of members) {
    const target = await directory.resolveAddress(member);
    const memberDomain = parseAddress(member).domain;
    if (target && upstreamDomains?.has(memberDomain))
      recipients.push({ recipient: member, route: 'remote', domain: memberDomain, tenantId: principal.tenantId });
    else if (target && mailboxKinds.has(target.principal.kind)) recipients.push(localRecipient(target.principal));
    else {
      const memberOwner = await directory.findDomain(memberDomain);
      // An unknown address inside our own authoritative domain would only bounce; skip it.
      if (memberOwner && memberOwner.kind === 'authoritative') continue;
      recipients.push({ recipient: member, route: 'remote', domain: memberDomain, tenantId: principal.tenantId });
    }
  }
  return { kind: 'local', tenantId: principal.tenantId, principal, recipients };
}

/** A tenant's administrators (the global ones if it has none, or for the server's own names). */
async function toAdministrators(directory: Directory, tenantId: number | null): Promise<RouteResult> {
  let admins = await directory.administrators(tenantId);
  if (admins.length === 0 && tenantId !== null) admins = await directory.administrators(null);
  if (admins.length === 0) return { kind: 'unknown', tenantId: tenantId ?? 0 };
  return { kind: 'postmaster', tenantId: tenantId ?? admins[0]!.tenantId, recipients: admins.map(localRecipient) };
}

function localRecipient(principal: Principal): RoutedRecipient {
  return {
    recipient: principal.address,
    route: 'local',
    domain: parseAddress(principal.address).domain,
    tenantId: principal.tenantId,
    principal,
  };
}
