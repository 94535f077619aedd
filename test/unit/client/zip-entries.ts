/**
 * The files of a zip archive (a job pack's job home), read with yauzl, an implementation
 * independent of the yazl that writes them: what the client's unit tests check packs with.
 *
 * @example
 * const files = await unzip(decodeJobPack(built.pack).jobhome);
 * expect(files.map((f) => f.name)).toContain('lib/job.mjs');
 */
import yauzl from 'yauzl';

/** One file of the archive. */
export interface ZipEntry {
  name: string;
  /** Its Unix permission bits. */
  mode: number;
  data: Buffer;
}

/** Every file of the archive, in archive order. */
export function unzip(buf: Uint8Array): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(Buffer.from(buf), { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out: ZipEntry[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        zip.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2);
          const parts: Buffer[] = [];
          s.on('data', (b: Buffer) => parts.push(b));
          s.on('end', () => {
            out.push({
              name: e.fileName,
              mode: (e.externalFileAttributes >>> 16) & 0o777,
              data: Buffer.concat(parts),
            });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}
