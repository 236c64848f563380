// Encoded words (RFC 2047) in header values, decoded: "=?UTF-8?Q?=C3=89mile?=" reads "Émile". A value
// whose encoded words cannot be decoded (an unknown charset, broken encoding) is kept as written.
import libmime from 'libmime';

export function decodeEncodedWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}
