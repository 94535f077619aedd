/**
 * Generated text for the word-count benchmarks: deterministic, a Zipf-like vocabulary of
 * 20,000 words, 12-word lines. Files are kept and reused while they are big enough.
 *
 * @example
 * const files = generateText(path.join(OUT, 'text-200mb'), 200, 8); // 8 files of 25 MB
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Deterministic text: a Zipf-like vocabulary, 12-word lines. */
export function generateText(dir: string, totalMb: number, files: number): string[] {
  mkdirSync(dir, { recursive: true });
  const vocab: string[] = [];
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  for (let i = 0; i < 20000; i++) {
    let w = '';
    const len = 2 + Math.floor(rnd() * 8);
    for (let j = 0; j < len; j++) w += letters[Math.floor(rnd() ** 2 * letters.length)];
    vocab.push(w);
  }
  const paths: string[] = [];
  const perFile = Math.ceil((totalMb * 1024 * 1024) / files);
  for (let f = 0; f < files; f++) {
    const p = path.join(dir, `part-${f}.txt`);
    paths.push(p);
    if (existsSync(p) && statSync(p).size >= perFile) continue;
    const chunks: string[] = [];
    let size = 0;
    let buf = '';
    while (size < perFile) {
      const words: string[] = [];
      for (let k = 0; k < 12; k++) words.push(vocab[Math.floor(rnd() ** 3 * vocab.length)]);
      const l = `${words.join(' ')}\n`;
      buf += l;
      size += l.length;
      if (buf.length > 1 << 20) {
        chunks.push(buf);
        buf = '';
      }
    }
    chunks.push(buf);
    writeFileSync(p, chunks.join(''));
  }
  return paths;
}
