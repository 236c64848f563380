// Inputs for fuzz tests: a seeded generator (xorshift32), so a failure names the input that made it
// and runs again the same, and random edits of a valid seed.

export function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** One to four edits of `text`: characters of `alphabet` inserted, characters deleted, a tail reversed. */
export function mutate(text: string, rand: () => number, alphabet: string): string {
  let out = text;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (out.length + 1));
    const choice = rand();
    const char = alphabet[Math.floor(rand() * alphabet.length)];
    if (choice < 0.45) out = out.slice(0, at) + char + out.slice(at);
    else if (choice < 0.8) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + out.slice(at).split('').reverse().join('');
  }
  return out;
}
