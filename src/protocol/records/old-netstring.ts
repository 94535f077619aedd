/**
 * Disco's oldest record format (version 0, the original's `old_netstr_reader`): text
 * netstrings. Readers support it for old data; nothing writes it. A file is in it when its
 * first byte is below 0x80 (see `openRecordStream`).
 */
import { DataError } from '../../common/errors.js';
import type { ByteSource } from './byte-source.js';
import type { KV } from './format.js';
import type { ReadOptions } from './hunk-reader.js';

/** Version 0: `"<len(k)> <k> <len(v)> <v>\n"` text netstrings (`old_netstr_reader`). */
export function* readOldNetstrings(src: ByteSource, head: Buffer, opts: ReadOptions): Generator<KV> {
  let buf = head;
  const more = () => {
    const b = src.read(65536);
    if (b.length > 0) buf = Buffer.concat([buf, b]);
    return b.length > 0;
  };
  const readField = (): Buffer | null => {
    let sp = buf.indexOf(0x20);
    while (sp < 0) {
      if (!more()) return null;
      sp = buf.indexOf(0x20);
    }
    const len = Number(buf.subarray(0, sp).toString('latin1'));
    if (!Number.isInteger(len) || len < 0) throw new DataError('corrupt netstring length', opts.url);
    while (buf.length < sp + 1 + len + 1) if (!more()) throw new DataError('truncated netstring', opts.url);
    const field = buf.subarray(sp + 1, sp + 1 + len);
    buf = buf.subarray(sp + 1 + len + 1);
    return field;
  };
  for (;;) {
    if (buf.length === 0 && !more()) return;
    const k = readField();
    if (k === null) return;
    const v = readField();
    if (v === null) throw new DataError('truncated netstring record', opts.url);
    yield [k.toString('utf8'), v.toString('utf8')];
  }
}
