// Messages for the MIME tree and IMAP section tests, written with "\n" and sent with CRLF.
import { parseMimeTree, type MimePart } from '../../src/message/mime-tree.ts';

/** The text as a message on the wire: every line break CRLF, one byte per character (Latin-1). */
export function crlf(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** The bytes of a part's body. */
export function bodyOf(source: Buffer, part: MimePart | undefined): string | undefined {
  return part && source.subarray(part.bodyStart, part.end).toString('latin1');
}

/** A parsed message: its bytes and its tree. */
export function parsed(text: string): { source: Buffer; tree: MimePart } {
  const source = crlf(text);
  return { source, tree: parseMimeTree(source) };
}

/**
 * The shape of RFC 3501's example of a complex message (section 6.4.5): parts 1, 2, 3 (a message
 * holding 3.1 and 3.2), 4 (a multipart holding 4.1 and 4.2, a message whose body is 4.2.1 and the
 * alternative 4.2.2 with 4.2.2.1 and 4.2.2.2). Each body says its part number.
 */
export const rfc3501Sample = `From: Alice <alice@example.org>
Subject: Complex
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: text/plain; charset=us-ascii

Body 1
--outer
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

Qm9keSAy
--outer
Content-Type: message/rfc822
Content-Description: Part 3

From: Bob <bob@example.org>
Subject: Inner 3
Content-Type: multipart/mixed; boundary="three"

--three
Content-Type: text/plain

Body 3.1
--three
Content-Type: application/octet-stream

Body 3.2
--three--
--outer
Content-Type: multipart/mixed; boundary="four"

--four
Content-Type: image/gif
Content-ID: <gif@example.org>

Body 4.1
--four
Content-Type: message/rfc822

Subject: Inner 4.2
Message-ID: <inner42@example.org>
Content-Type: multipart/mixed; boundary="fourtwo"

--fourtwo
Content-Type: text/plain

Body 4.2.1
--fourtwo
Content-Type: multipart/alternative; boundary="fourtwotwo"

--fourtwotwo
Content-Type: text/plain

Body 4.2.2.1
--fourtwotwo
Content-Type: text/richtext

Body 4.2.2.2
--fourtwotwo--
--fourtwo--
--four--
--outer--
The epilogue.
`;
