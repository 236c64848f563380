// The reverse names the client's PTR is asked under (flow/intake/client-hostname.ts), IPv4 and IPv6.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reverseName } from '../../src/flow/intake/client-hostname.ts';

describe("the client's reverse name", () => {
  it('reverses IPv4 octets and IPv6 nibbles', () => {
    assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
    assert.equal(
      reverseName('2001:db8::567:89ab'),
      'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    assert.equal(reverseName('::1'), `1${'.0'.repeat(31)}.ip6.arpa`);
    assert.equal(reverseName('not an address'), undefined);
  });
});
