// The Sender Rewriting Scheme (src/flow/srs.ts): an address rewritten and reversed, what survives
// servers folding case on the way, and what is refused: another key, a changed part, the parts
// shifted between domain and local part, an address too old or from the future.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Srs, srsMaxAgeDays } from '../../src/flow/srs.ts';

const day = 86_400_000;
const now = Date.parse('2026-12-06T12:00:00Z');

describe('SRS', () => {
  const srs = new Srs(randomBytes(32));

  it('rewrites a sender as SRS0 at our domain and reverses it', () => {
    const rewritten = srs.forward('Erin.Smith@Origin.example', 'test.example', now);
    assert.match(rewritten, /^SRS0=[a-z2-7]{5}=[A-Z2-7]{2}=origin\.example=Erin\.Smith@test\.example$/);
    const local = rewritten.slice(0, rewritten.lastIndexOf('@'));
    assert.equal(srs.reverse(local, now), 'Erin.Smith@origin.example');
    assert.equal(srs.reverse(local.toLowerCase(), now + day), 'erin.smith@origin.example', 'folded to lower case');
    assert.equal(srs.reverse(local.toUpperCase(), now), 'ERIN.SMITH@origin.example', 'folded to upper case');
  });

  it('keeps the null sender null, and a local part with = in it', () => {
    assert.equal(srs.forward('', 'test.example', now), '');
    const rewritten = srs.forward('a=b@origin.example', 'test.example', now);
    assert.equal(srs.reverse(rewritten.split('@')[0]!, now), 'a=b@origin.example');
  });

  it('refuses another key, changed parts and parts shifted between domain and local part', () => {
    const local = srs.forward('ab@x.com', 'test.example', now).split('@')[0]!;
    assert.equal(new Srs(randomBytes(32)).reverse(local, now), undefined);
    assert.equal(srs.reverse(local.replace('=x.com=', '=y.com='), now), undefined);
    assert.equal(srs.reverse(local.replace('=ab', '=ac'), now), undefined);
    // "x.com" + "ab" and "x.coma" + "b" must not share a hash.
    assert.equal(srs.reverse(local.replace('=x.com=ab', '=x.coma=b'), now), undefined);
    assert.equal(srs.reverse('SRS0=aaaaa=AA=x.com=ab', now), undefined);
    assert.equal(srs.reverse('not-srs', now), undefined);
  });

  it(`honours an address for ${srsMaxAgeDays} days, not longer, and none from the future`, () => {
    const local = srs.forward('erin@origin.example', 'test.example', now).split('@')[0]!;
    assert.equal(srs.reverse(local, now + srsMaxAgeDays * day), 'erin@origin.example');
    assert.equal(srs.reverse(local, now + (srsMaxAgeDays + 1) * day), undefined);
    assert.equal(srs.reverse(local, now - 2 * day), undefined);
  });
});
