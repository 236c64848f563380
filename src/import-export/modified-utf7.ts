// IMAP's modified UTF-7 (RFC 3501 §5.1.3), which Maildir++ folder names on disk are written in:
// "&" starts base64 of UTF-16 (with "," for "/"), "-" ends it, "&-" is "&".
export function decodeModifiedUtf7(text: string): string {
  return text.replace(/&([^-]*)-/g, (_, encoded: string) => {
    if (encoded === '') return '&';
    const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
}
