/**
 * The internal record format (documented in docs/record-format.md), as the rest of the project
 * imports it; each part lives in src/protocol/records/. A stream of hunks, each a 14-byte
 * little-endian header `<BBIQ>` — `0x80 + version`, compressed flag (1 = zlib), CRC32 of the
 * uncompressed body, body length — then the body. A hunk is flushed past {@link HUNK_SIZE}
 * uncompressed bytes; a hunk of length 0 (or EOF) ends the stream.
 *
 * Version 1 bodies are Python pickles (the original classic worker); this project writes
 * version 2: each record is two MessagePack values, key then value. Concatenated streams are
 * valid streams (the shuffle appends map outputs). Everything here is synchronous: workers
 * run one task per process and block on their own disk reads.
 *
 * Speed (this is every task's data path): the writer encodes strings, numbers, booleans,
 * nil and Buffers itself, straight into the hunk buffer, byte for byte as msgpackr would
 * (records/pack-buffer.ts; anything else goes through msgpackr, loaded on first use:
 * records/codec.ts); readers check a hunk whole (CRC), then decode it a slice of records at a
 * time ({@link HunkReader}) into buffers they reuse.
 *
 * @example
 * const w = new RecordWriter((b) => chunks.push(b));
 * w.write('hello', 1); w.close();
 * for (const [k, v] of readRecords(new BufferSource(Buffer.concat(chunks)))) ...
 */
export { BufferSource, type ByteSource, FileSource } from './records/byte-source.js';
export { DETACHED_BYTES, packValue, unpackRange, unpackValues } from './records/codec.js';
export { EncodedRecord, readEncodedRecords } from './records/encoded.js';
export { HUNK_HEADER, HUNK_SIZE, hunkHeader, type KV, RECORD_VERSION } from './records/format.js';
export { HunkReader, type ReadOptions } from './records/hunk-reader.js';
export { encodeBinary, encodeNumber, encodeString, PackBuffer } from './records/pack-buffer.js';
export { readRecords } from './records/reader.js';
export { scanValues, sliceRecords, type ValueStarts, valueStarts } from './records/value-scanner.js';
export { RecordWriter } from './records/writer.js';
