// Reading the list of continuity users as an Exchange mailbox export gives it: a CSV file (RFC 4180
// quoting) with a display name, a primary SMTP address and proxy addresses, e.g. from
//   Get-Mailbox -ResultSize Unlimited | Select DisplayName,PrimarySmtpAddress,
//     @{n='EmailAddresses';e={$_.EmailAddresses -join ';'}} | Export-Csv users.csv -NoTypeInformation
// or the admin center's export ("Display name", "Primary SMTP address", "Proxy addresses"). Header
// names are matched without regard to case, spaces and underscores; a "#TYPE" line of
// Windows PowerShell 5.1 and a byte order mark are skipped. Proxy addresses are the "smtp:" entries
// (X500:, SIP:, SPO: and the like are Exchange's own and ignored). The input is bounded: it comes
// from another system and may be anything.
import { invalid } from '../errors.ts';

export interface ExportedMailbox {
  /** The line the row starts on (1-based), for messages. */
  line: number;
  displayName: string | null;
  primary: string;
  /** Further SMTP addresses (aliases), lower-case, without the primary. */
  proxies: string[];
}

export interface ExportProblem {
  line: number;
  problem: string;
}

export const exportLimits = { bytes: 64 * 1024 * 1024, rows: 200_000, fieldLength: 64 * 1024, proxies: 500 };

const headerNames = {
  displayName: ['displayname', 'name'],
  primary: ['primarysmtpaddress', 'windowsemailaddress', 'userprincipalname'],
  proxies: ['emailaddresses', 'proxyaddresses', 'proxyaddress'],
};

const addressPattern = /^[^\s@<>",;:]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/i;

export function parseMailboxExport(text: string): { mailboxes: ExportedMailbox[]; problems: ExportProblem[] } {
  if (text.length > exportLimits.bytes)
    throw invalid('export-too-large', `the file is larger than ${exportLimits.bytes / 1024 / 1024} MB`);
  const rows = csvRows(text.replace(/^\uFEFF/, ''));
  while (rows.length && (rows[0]!.fields.join('').trim() === '' || rows[0]!.fields[0]!.startsWith('#TYPE')))
    rows.shift();
  const header = rows.shift();
  if (!header) throw invalid('export-empty', 'the file has no header line');
  const names = header.fields.map((f) => f.toLowerCase().replace(/[\s_"-]/g, ''));
  const column = (wanted: string[]) => {
    for (const w of wanted) {
      const i = names.indexOf(w);
      if (i >= 0) return i;
    }
    return -1;
  };
  const primaryAt = column(headerNames.primary);
  if (primaryAt < 0)
    throw invalid(
      'export-no-primary-column',
      `the header line names no primary address column (expected one of: PrimarySmtpAddress, "Primary SMTP address", WindowsEmailAddress); it has: ${header.fields.slice(0, 20).join(', ')}`,
    );
  const nameAt = column(headerNames.displayName);
  const proxiesAt = column(headerNames.proxies);
  const mailboxes: ExportedMailbox[] = [];
  const problems: ExportProblem[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (row.fields.every((f) => f.trim() === '')) continue;
    const primary = (row.fields[primaryAt] ?? '')
      .trim()
      .replace(/^smtp:/i, '')
      .toLowerCase();
    if (!addressPattern.test(primary)) {
      problems.push({ line: row.line, problem: `"${clip(primary)}" is not an email address` });
      continue;
    }
    if (seen.has(primary)) {
      problems.push({ line: row.line, problem: `${primary} is listed twice; the first row counts` });
      continue;
    }
    seen.add(primary);
    const proxies = new Set<string>();
    for (const entry of (proxiesAt >= 0 ? (row.fields[proxiesAt] ?? '') : '').split(/[;,\s]+/)) {
      const match = /^smtp:(.+)$/i.exec(entry.trim());
      if (!match) continue;
      const address = match[1]!.toLowerCase();
      if (address !== primary && addressPattern.test(address)) proxies.add(address);
    }
    if (proxies.size > exportLimits.proxies) {
      problems.push({ line: row.line, problem: `${primary} has more than ${exportLimits.proxies} proxy addresses` });
      continue;
    }
    const displayName = nameAt >= 0 ? (row.fields[nameAt] ?? '').trim().slice(0, 256) || null : null;
    mailboxes.push({ line: row.line, displayName, primary, proxies: [...proxies] });
  }
  return { mailboxes, problems };
}

const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

/** CSV rows (RFC 4180: quoted fields may hold commas, quotes doubled, line breaks). */
function csvRows(text: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endField = () => {
    if (field.length > exportLimits.fieldLength)
      throw invalid(
        'export-field-too-long',
        `line ${rowLine}: a field is longer than ${exportLimits.fieldLength} characters`,
      );
    fields.push(field);
    field = '';
  };
  const endRow = () => {
    endField();
    rows.push({ line: rowLine, fields });
    if (rows.length > exportLimits.rows + 1)
      throw invalid('export-too-many-rows', `the file has more than ${exportLimits.rows} rows; split it`);
    fields = [];
    rowLine = line;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
        if (field.length > exportLimits.fieldLength) endField();
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
      endRow();
    } else field += c;
  }
  if (quoted) throw invalid('export-unclosed-quote', `line ${rowLine}: a quoted field is not closed`);
  if (field !== '' || fields.length) endRow();
  return rows;
}
