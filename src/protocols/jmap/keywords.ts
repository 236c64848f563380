// JMAP keywords and IMAP flags are one thing (RFC 8621 4.1.1): $seen is \Seen, $flagged \Flagged,
// $answered \Answered, $draft \Draft; other keywords are IMAP keywords, in lower case (JMAP compares
// them without case). \Deleted has no keyword: JMAP destroys at once, so it is kept as it is and
// never shown.
import { systemFlag } from '../../mailbox/messages.ts';

const systemKeywords: Record<string, string> = {
  $seen: '\\Seen',
  $flagged: '\\Flagged',
  $answered: '\\Answered',
  $draft: '\\Draft',
};
const keywordOfFlag = new Map(Object.entries(systemKeywords).map(([keyword, flag]) => [flag, keyword]));

export function keywordsOf(flags: string[]): Record<string, true> {
  const out: Record<string, true> = {};
  for (const flag of flags) {
    if (flag.startsWith('\\')) {
      const keyword = keywordOfFlag.get(systemFlag(flag));
      if (keyword) out[keyword] = true;
    } else out[flag.toLowerCase()] = true;
  }
  return out;
}

export function flagOf(keyword: string): string {
  const lower = keyword.toLowerCase();
  return systemKeywords[lower] ?? lower;
}

/** Whether a string may be a keyword (RFC 8621 4.1.1: IMAP atom characters but ] and those named). */
export function isKeyword(keyword: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(keyword) && !/[(){\]%*"\\]/.test(keyword);
}
