// Decoding a part's body: its transfer encoding (base64, quoted-printable) and then its charset.
// Used to index text for search and, with BINARY, to send a part decoded.
import { decode as decodeQuotedPrintable } from 'libqp';
import { paramValue } from './mime-params.ts';
import type { MimePart } from './mime-tree.ts';

/** The body bytes of `part` with the transfer encoding undone; undefined for an unknown encoding. */
export function decodeTransfer(part: MimePart, body: Buffer): Buffer | undefined {
  switch (part.encoding ?? '7bit') {
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return undefined;
  }
}

/** Text in the part's charset, decoded; unknown charsets fall back to UTF-8 (then Latin-1 for invalid bytes). */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(label === 'us-ascii' ? 'utf-8' : label).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** The readable text of a message (text/plain and text/html parts that are not attachments), for search. */
export function searchableText(source: Buffer, root: MimePart, limit = 1024 * 1024): string {
  const pieces: string[] = [];
  let length = 0;
  const visit = (part: MimePart) => {
    if (length >= limit) return;
    if (part.children) return part.children.forEach(visit);
    if (part.message) return visit(part.message.root);
    if (part.type !== 'text' || part.disposition?.type === 'attachment') return;
    if (part.subtype !== 'plain' && part.subtype !== 'html') return;
    const bytes = decodeTransfer(part, source.subarray(part.bodyStart, part.end));
    if (!bytes) return;
    let text = decodeCharset(bytes, paramValue(part.params, 'charset'));
    if (part.subtype === 'html') text = htmlToText(text);
    pieces.push(text);
    length += text.length;
  };
  visit(root);
  return pieces.join('\n').slice(0, limit);
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, code) => (Number(code) <= 0x10ffff ? String.fromCodePoint(Number(code)) : ' '));
}
