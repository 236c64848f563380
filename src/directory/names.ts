// Validation of the names the directory stores: addresses, domains, tenant and forest names.
import { isDomainName } from '../config/setting.ts';
import { invalid } from '../errors.ts';

const localPartPattern = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;

export interface ParsedAddress {
  /** Lower-cased: how the directory stores and compares addresses. */
  address: string;
  local: string;
  domain: string;
  /**
   * The local part as given with the domain lower-cased: what goes to another server, which alone
   * decides what case means in its local parts (RFC 5321 §2.4).
   */
  asGiven: string;
}

/** Lower-cases and checks an address; throws `invalid-address` naming it when it is not one. */
export function parseAddress(input: string): ParsedAddress {
  const trimmed = input.trim();
  const address = trimmed.toLowerCase();
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (at < 1 || local.length > 64 || !localPartPattern.test(local) || !isDomainName(domain)) {
    throw invalid('invalid-address', `"${input}" is not a valid email address`);
  }
  return { address, local, domain, asGiven: `${trimmed.slice(0, at)}@${domain}` };
}

export function parseDomain(input: string): string {
  const domain = input.trim().toLowerCase().replace(/\.$/, '');
  if (!isDomainName(domain) || !domain.includes('.')) {
    throw invalid('invalid-domain', `"${input}" is not a valid domain name (expected something like example.com)`);
  }
  return domain;
}

/**
 * A domain to add to the directory: as parseDomain, and no IP address (no top-level domain is all
 * digits, RFC 3696 2). Lookups keep parseDomain: mail to x@192.0.2.1 is a relay question, not an error.
 */
export function parseNewDomain(input: string): string {
  const domain = parseDomain(input);
  if (/^\d+$/.test(domain.slice(domain.lastIndexOf('.') + 1)))
    throw invalid(
      'invalid-domain',
      `"${input}" is an IP address, not a domain name (expected something like example.com)`,
    );
  return domain;
}

const namePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Tenant and forest names: short, lower-case, usable in URLs and file names. */
export function parseName(kind: 'tenant' | 'forest', input: string): string {
  const name = input.trim().toLowerCase();
  if (!namePattern.test(name)) {
    throw invalid(
      `invalid-${kind}-name`,
      `"${input}" is not a valid ${kind} name: use letters, digits and "-" (up to 63 characters)`,
    );
  }
  return name;
}
