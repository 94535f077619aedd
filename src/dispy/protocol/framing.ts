/**
 * Framing of the dispy wire protocol: every message is a 4-byte big-endian length followed by
 * that many bytes of MessagePack (see `codec.ts`). {@link FrameReader} reassembles frames from
 * stream chunks without copying more than necessary and refuses oversized frames.
 *
 * @example
 * const r = new FrameReader(1 << 20);
 * for (const payload of r.push(chunk)) handle(unpack(payload));
 */
import { ProtocolError } from '../../common/errors.js';
import { MAX_FRAME_BYTES } from './constants.js';

/** `payload` with its length prefix. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

/** Incremental decoder of length-prefixed frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(public maxFrame = MAX_FRAME_BYTES) {}

  /** Feed bytes; returns the complete frames' payloads. Throws {@link ProtocolError} on oversize. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peekHeader();
      if (head > this.maxFrame) {
        throw new ProtocolError(`frame of ${head} bytes exceeds the limit of ${this.maxFrame} bytes`);
      }
      if (this.buffered < 4 + head) break;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      out.push(all.subarray(4, 4 + head));
      const rest = all.subarray(4 + head);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return out;
  }

  /** Bytes waiting for the rest of their frame. */
  get pending(): number {
    return this.buffered;
  }

  private peekHeader(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, this.buffered).subarray(0, 4);
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return head.readUInt32BE(0);
  }
}
