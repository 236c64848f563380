// SMTP replies as the wire writes them (RFC 5321 §4.2): a code, an enhanced status code (RFC 2034,
// RFC 3463) and text; several lines for EHLO. Pure: no I/O.

export interface Reply {
  code: number;
  /** RFC 3463 code; absent on the greeting and on replies to HELO/EHLO (RFC 2034 §3). */
  enhanced?: string;
  text: string | string[];
}

export const reply = (code: number, enhanced: string | undefined, text: string | string[]): Reply => ({
  code,
  enhanced,
  text,
});

/**
 * Reply text must never hold a control character: some of it echoes what the client sent (a
 * parameter, a user name) and a CR or LF there would split the reply into two (response splitting).
 */
const controlCharacters = /[\x00-\x1f\x7f-\x9f]/g;

export function formatReply({ code, enhanced, text }: Reply): string {
  const lines = Array.isArray(text) ? text : [text];
  const status = enhanced ? `${enhanced} ` : '';
  return lines
    .map((line, i) => `${code}${i < lines.length - 1 ? '-' : ' '}${status}${line.replace(controlCharacters, ' ')}\r\n`)
    .join('');
}
