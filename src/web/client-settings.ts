// What a mail client needs to set itself up, and the documents that carry it: Thunderbird's
// autoconfig (Mozilla's config-v1.1.xml), Outlook's autodiscover (the POX "2006a" response and the
// JSON v2 answer), and an Apple configuration profile. The settings come from the configuration:
// [hostname] and the ports of the listeners that are on ("off" and 0, "any free port", are left out,
// since no client could use them). Nothing here reads the store; no document names a tenant or
// carries a password.
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';

/** Implicit TLS from the first byte, or plain text upgraded with STARTTLS (STLS for POP3). */
export type Security = 'tls' | 'starttls';

export interface ServerSetting {
  protocol: 'imap' | 'pop3' | 'smtp';
  host: string;
  port: number;
  security: Security;
}

export interface CalDavSetting {
  host: string;
  port: number;
  /** Always true: passwords go to CalDAV over TLS only (a TLS proxy in front counts). */
  tls: true;
}

export interface ClientSettings {
  host: string;
  /** Preferred first: IMAP over TLS, IMAP with STARTTLS, then POP3 the same way. */
  incoming: ServerSetting[];
  /** Submission over TLS (465), then with STARTTLS (587). */
  outgoing: ServerSetting[];
  /** Where CalDAV (and autodiscover's own URL) is reached over HTTPS, if anywhere. */
  https?: CalDavSetting;
}

type SettingsConfig = Pick<Config, 'hostname' | 'ports' | 'http'>;

const listening = (port: number | 'off'): port is number => port !== 'off' && port > 0;

export function clientSettings(config: SettingsConfig): ClientSettings {
  const host = config.hostname;
  const { ports } = config;
  const server = (protocol: ServerSetting['protocol'], port: number | 'off', security: Security) =>
    listening(port) ? [{ protocol, host, port, security }] : [];
  return {
    host,
    incoming: [
      ...server('imap', ports.imaps, 'tls'),
      ...server('imap', ports.imap, 'starttls'),
      ...server('pop3', ports.pop3s, 'tls'),
      ...server('pop3', ports.pop3, 'starttls'),
    ],
    outgoing: [...server('smtp', ports.submissions, 'tls'), ...server('smtp', ports.submission, 'starttls')],
    https: httpsSetting(config),
  };
}

/**
 * HTTPS as clients reach it: the HTTPS listener; or, with it off and [http] plaintext_login on, the
 * TLS-terminating proxy that setting says is in front, on 443.
 */
function httpsSetting(config: SettingsConfig): CalDavSetting | undefined {
  if (listening(config.ports.https)) return { host: config.hostname, port: config.ports.https, tls: true };
  if (listening(config.ports.http) && config.http.plaintextLogin)
    return { host: config.hostname, port: 443, tls: true };
  return undefined;
}

export const httpsBase = (https: CalDavSetting) => `https://${https.host}${https.port === 443 ? '' : `:${https.port}`}`;

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// Thunderbird autoconfig ---------------------------------------------------------------------------

/** Mozilla's clientConfig 1.1 for a domain: every server that is on, preferred first; the user name is the address. */
export function autoconfigXml(settings: ClientSettings, domain: string): string {
  const server = (element: 'incomingServer' | 'outgoingServer', s: ServerSetting) =>
    [
      `    <${element} type="${s.protocol}">`,
      `      <hostname>${escapeXml(s.host)}</hostname>`,
      `      <port>${s.port}</port>`,
      `      <socketType>${s.security === 'tls' ? 'SSL' : 'STARTTLS'}</socketType>`,
      '      <authentication>password-cleartext</authentication>',
      '      <username>%EMAILADDRESS%</username>',
      `    </${element}>`,
    ].join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${escapeXml(domain)}">`,
    `    <domain>${escapeXml(domain)}</domain>`,
    `    <displayName>${escapeXml(domain)}</displayName>`,
    `    <displayShortName>${escapeXml(domain)}</displayShortName>`,
    ...settings.incoming.map((s) => server('incomingServer', s)),
    ...settings.outgoing.map((s) => server('outgoingServer', s)),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

// Outlook autodiscover -----------------------------------------------------------------------------

export const autodiscoverNs = {
  request: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006',
  response: 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
  outlook: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
} as const;

/**
 * The POX answer ("settings" for an e-mail account): one Protocol per type, the preferred server of
 * each (Outlook takes the first it knows). <Encryption> says TLS for STARTTLS, which <SSL> alone
 * cannot say; SPA is off, since the password goes as it is, inside TLS.
 */
export function autodiscoverXml(settings: ClientSettings, address: string | undefined): string {
  const first = (protocol: ServerSetting['protocol']) =>
    [...settings.incoming, ...settings.outgoing].find((s) => s.protocol === protocol);
  const chosen = [first('imap'), first('pop3'), first('smtp')].filter((s) => s !== undefined);
  const protocol = (s: ServerSetting) =>
    [
      '      <Protocol>',
      `        <Type>${s.protocol.toUpperCase()}</Type>`,
      `        <Server>${escapeXml(s.host)}</Server>`,
      `        <Port>${s.port}</Port>`,
      '        <DomainRequired>off</DomainRequired>',
      ...(address === undefined ? [] : [`        <LoginName>${escapeXml(address)}</LoginName>`]),
      '        <SPA>off</SPA>',
      '        <SSL>on</SSL>',
      `        <Encryption>${s.security === 'tls' ? 'SSL' : 'TLS'}</Encryption>`,
      '        <AuthRequired>on</AuthRequired>',
      ...(s.protocol === 'smtp' ? ['        <UsePOPAuth>on</UsePOPAuth>', '        <SMTPLast>off</SMTPLast>'] : []),
      '      </Protocol>',
    ].join('\n');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${autodiscoverNs.response}">`,
    `  <Response xmlns="${autodiscoverNs.outlook}">`,
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    ...chosen.map(protocol),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

// Apple configuration profile ----------------------------------------------------------------------

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plistValue(value: PlistValue, indent: string): string[] {
  if (typeof value === 'string') return [`${indent}<string>${escapeXml(value)}</string>`];
  if (typeof value === 'number') return [`${indent}<integer>${value}</integer>`];
  if (typeof value === 'boolean') return [`${indent}<${value}/>`];
  if (Array.isArray(value))
    return [`${indent}<array>`, ...value.flatMap((v) => plistValue(v, `${indent}  `)), `${indent}</array>`];
  return [
    `${indent}<dict>`,
    ...Object.entries(value).flatMap(([key, v]) => [
      `${indent}  <key>${escapeXml(key)}</key>`,
      ...plistValue(v, `${indent}  `),
    ]),
    `${indent}</dict>`,
  ];
}

/** A UUID that stays the same for the same inputs, so installing a new download replaces the old profile. */
function stableUuid(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\n')).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`.toUpperCase();
}

export interface ProfileUser {
  address: string;
  displayName: string | null;
  /** Path of the user's CalDAV principal (e.g. /dav/principals/alice%40example.com/). */
  caldavPrincipalPath: string;
}

/**
 * A configuration profile (.mobileconfig, unsigned) with a mail account (IMAP, or POP3 when IMAP is
 * off, and SMTP) and, when CalDAV is reached over HTTPS, a CalDAV account. Devices ask for the password
 * when the profile is installed; it is never in the file.
 */
export function appleProfile(settings: ClientSettings, user: ProfileUser): string {
  const incoming = settings.incoming[0];
  const outgoing = settings.outgoing[0];
  const id = (kind: string) => stableUuid(settings.host, user.address, kind);
  const identifier = `${settings.host.split('.').reverse().join('.')}.holdfast.${id('profile').toLowerCase()}`;
  const payloads: PlistValue[] = [];
  if (incoming && outgoing)
    payloads.push({
      EmailAccountDescription: user.address,
      ...(user.displayName ? { EmailAccountName: user.displayName } : {}),
      EmailAccountType: incoming.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP',
      EmailAddress: user.address,
      IncomingMailServerAuthentication: 'EmailAuthPassword',
      IncomingMailServerHostName: incoming.host,
      IncomingMailServerPortNumber: incoming.port,
      IncomingMailServerUseSSL: true,
      IncomingMailServerUsername: user.address,
      OutgoingMailServerAuthentication: 'EmailAuthPassword',
      OutgoingMailServerHostName: outgoing.host,
      OutgoingMailServerPortNumber: outgoing.port,
      OutgoingMailServerUseSSL: true,
      OutgoingMailServerUsername: user.address,
      OutgoingPasswordSameAsIncomingPassword: true,
      PayloadDescription: `Mail for ${user.address}`,
      PayloadDisplayName: `Mail (${user.address})`,
      PayloadIdentifier: `${identifier}.mail`,
      PayloadType: 'com.apple.mail.managed',
      PayloadUUID: id('mail'),
      PayloadVersion: 1,
    });
  if (settings.https)
    payloads.push({
      CalDAVAccountDescription: user.address,
      CalDAVHostName: settings.https.host,
      CalDAVPort: settings.https.port,
      CalDAVPrincipalURL: user.caldavPrincipalPath,
      CalDAVUseSSL: true,
      CalDAVUsername: user.address,
      PayloadDescription: `Calendars of ${user.address}`,
      PayloadDisplayName: `Calendars (${user.address})`,
      PayloadIdentifier: `${identifier}.caldav`,
      PayloadType: 'com.apple.caldav.account',
      PayloadUUID: id('caldav'),
      PayloadVersion: 1,
    });
  const profile: PlistValue = {
    PayloadContent: payloads,
    PayloadDescription: `Mail${settings.https ? ' and calendars' : ''} of ${user.address} on ${settings.host}`,
    PayloadDisplayName: `${user.address} (${settings.host})`,
    PayloadIdentifier: identifier,
    PayloadOrganization: settings.host,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: id('profile'),
    PayloadVersion: 1,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    ...plistValue(profile, ''),
    '</plist>',
    '',
  ].join('\n');
}
