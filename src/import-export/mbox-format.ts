// The mbox format as Holdfast reads and writes it (RFC 4155; the "mboxrd" variant of quoting): each
// message starts with a From_ line naming the envelope sender and the time it arrived, a body line
// that would begin "From " (after any ">") gets one more ">" on writing and loses one on reading,
// and a blank line ends each message. Flags travel in the Status, X-Status and X-Keywords fields
// mutt, Dovecot and Thunderbird use; on import they are taken out of the message again, as those
// programs do, so that an exported mailbox comes back byte for byte.

const weekday = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "From <sender> Thu Jan  1 00:00:00 2026", the zone optional, the sender possibly quoted (readpst). */
const fromLine = new RegExp(
  `^From (.*?) *${weekday} +(${months.join('|')}) +(\\d{1,2}) +(\\d{1,2}):(\\d{2})(?::(\\d{2}))?(?: +([+-]\\d{4}|[A-Z]{1,5}))? +(\\d{4})\\s*$`,
);

export interface FromLine {
  sender: string | undefined;
  /** Epoch ms (UTC unless the line names an offset); undefined when the line has no date. */
  date: number | undefined;
}

/** Whether a line (its first bytes suffice) is a From_ line starting a message. */
export function parseFromLine(line: string): FromLine | undefined {
  const text = line.replace(/\r?\n$/, '');
  const match = fromLine.exec(text);
  if (!match) return undefined;
  const [, sender, month, day, hour, minute, second, zone, year] = match;
  let date = Date.UTC(
    Number(year),
    months.indexOf(month!),
    Number(day),
    Number(hour),
    Number(minute),
    Number(second ?? 0),
  );
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000;
    date -= zone.startsWith('-') ? -offset : offset;
  }
  const unquoted = sender?.replace(/^"(.*)"$/, '$1').trim();
  return { sender: unquoted || undefined, date };
}

/** A From_ line for a message: `From sender Thu Jan  1 00:00:00 2026` (asctime, UTC). */
export function formatFromLine(sender: string, date: number): string {
  const d = new Date(date);
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const safeSender = sender.replace(/\s/g, '') || 'MAILER-DAEMON';
  return `From ${safeSender} ${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}\n`;
}

/** A body line that needs (writing) or carries (reading) mboxrd's quoting: ">"* then "From ". */
export const quotedFromLine = /^>*From /;

/** Header fields that hold a message's mbox state rather than its content: removed on import. */
export const mboxStateFields = new Set(['status', 'x-status', 'x-keywords', 'x-uid', 'x-imapbase', 'x-imap']);

/** IMAP flags from the mbox state fields (Status: R seen; X-Status: A answered, F flagged, T draft, D deleted). */
export function flagsFromStateFields(fields: { name: string; value: string }[]): string[] {
  const flags = new Set<string>();
  for (const { name, value } of fields) {
    if (name === 'status' && value.includes('R')) flags.add('\\Seen');
    if (name === 'x-status') {
      if (value.includes('A')) flags.add('\\Answered');
      if (value.includes('F')) flags.add('\\Flagged');
      if (value.includes('T')) flags.add('\\Draft');
      if (value.includes('D')) flags.add('\\Deleted');
    }
    if (name === 'x-keywords') for (const keyword of value.split(/[\s,]+/)) if (keyword) flags.add(keyword);
  }
  return [...flags];
}

/** The state fields for a message's flags, as lines ending in LF (Status is always written, as mutt does). */
export function stateFieldLines(flags: string[]): string {
  const has = (flag: string) => flags.some((f) => f.toLowerCase() === flag.toLowerCase());
  const xStatus = [
    has('\\Answered') ? 'A' : '',
    has('\\Flagged') ? 'F' : '',
    has('\\Draft') ? 'T' : '',
    has('\\Deleted') ? 'D' : '',
  ].join('');
  const keywords = flags.filter((f) => !f.startsWith('\\'));
  return [
    `Status: ${has('\\Seen') ? 'RO' : 'O'}\n`,
    xStatus ? `X-Status: ${xStatus}\n` : '',
    keywords.length ? `X-Keywords: ${keywords.join(' ')}\n` : '',
  ].join('');
}
