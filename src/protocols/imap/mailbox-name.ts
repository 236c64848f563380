// Folder names on the wire: UTF-8 for IMAP4rev2 and UTF8=ACCEPT clients, modified UTF-7 (RFC 3501
// section 5.1.3) for the others. Stored names are always UTF-8.

export function encodeModifiedUtf7(name: string): string {
  return name.replace(/&/g, '&-').replace(/[^\x20-\x7e]+/g, (run) => {
    const utf16 = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) utf16.writeUInt16BE(run.charCodeAt(i), i * 2);
    return `&${utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
  });
}

export function decodeModifiedUtf7(name: string): string {
  return name.replace(/&([^-]*)-/g, (_, encoded: string) => {
    if (encoded === '') return '&';
    const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes.readUInt16BE(i));
    return out;
  });
}

/**
 * Whether every "&" of `name` starts a well-formed modified base64 run, as RFC 3501 section 5.1.3
 * asks (the shortest encoding, of characters that cannot stand for themselves). A name that is not
 * is refused, as Dovecot does, rather than decoded into something the client did not mean.
 * Unencoded 8-bit characters are let through: some clients send UTF-8 names without enabling it.
 */
export function isModifiedUtf7(name: string): boolean {
  for (const run of name.match(/&[^-]*(-|$)/g) ?? []) {
    if (run === '&-') continue;
    if (!/^&[A-Za-z0-9+,]+-$/.test(run) || encodeModifiedUtf7(decodeModifiedUtf7(run)) !== run) return false;
  }
  return true;
}
