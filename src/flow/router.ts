// Where each recipient goes: a local mailbox (through aliases, plus-addressing and group expansion),
// or a remote domain (through a relay route or MX). Unknown addresses in authoritative domains are
// refused; internal-relay domains pass them on.
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
  | { kind: 'remote'; domain: string; recipients: RoutedRecipient[]; /** an internal-relay domain of ours, not the internet */ ownDomain: boolean }
  | { kind: 'unknown'; tenantId: number };

const mailboxKinds = new Set(['user', 'shared', 'room', 'equipment']);

export async function routeRecipient(directory: Directory, addressInput: string, senderTenantId: number | null = null): Promise<RouteResult> {
  const { address, local, domain } = parseAddress(addressInput);
  const owner = await directory.findDomain(domain);
  if (!owner) return { kind: 'remote', domain, ownDomain: false, recipients: [{ recipient: address, route: 'remote', domain, tenantId: senderTenantId }] };

  // user+tag@domain reaches user@domain unless user+tag exists in its own right.
  const plus = local.indexOf('+');
  const resolved = (await directory.resolveAddress(address)) ?? (plus > 0 ? await directory.resolveAddress(`${local.slice(0, plus)}@${domain}`) : undefined);
  if (!resolved) {
    if (owner.kind === 'internal-relay') return { kind: 'remote', domain, ownDomain: true, recipients: [{ recipient: address, route: 'remote', domain, tenantId: owner.tenantId }] };
    return { kind: 'unknown', tenantId: owner.tenantId };
  }
  const { principal } = resolved;
  if (principal.kind !== 'group') {
    return { kind: 'local', tenantId: principal.tenantId, principal, recipients: [localRecipient(principal)] };
  }
  // A group is expanded once here; each member is delivered (and limited) as one recipient of the group.
  const tenant = await directory.tenantOfDomain(domain);
  const members = await tenant.expandGroup(principal.address);
  const recipients: RoutedRecipient[] = [];
  for (const member of members) {
    const target = await directory.resolveAddress(member);
    if (target && mailboxKinds.has(target.principal.kind)) recipients.push(localRecipient(target.principal));
    else {
      const memberDomain = parseAddress(member).domain;
      const memberOwner = await directory.findDomain(memberDomain);
      // An unknown address inside our own authoritative domain would only bounce; skip it.
      if (memberOwner && memberOwner.kind === 'authoritative') continue;
      recipients.push({ recipient: member, route: 'remote', domain: memberDomain, tenantId: principal.tenantId });
    }
  }
  return { kind: 'local', tenantId: principal.tenantId, principal, recipients };
}

function localRecipient(principal: Principal): RoutedRecipient {
  return { recipient: principal.address, route: 'local', domain: parseAddress(principal.address).domain, tenantId: principal.tenantId, principal };
}
