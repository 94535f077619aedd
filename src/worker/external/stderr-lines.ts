/**
 * An external program's stderr, line by line (the original's `parse_message`): `**<MSG> text`
 * is a task message, `**<ERR> text` stops the job with `text`, anything else is passed on as
 * a message too. The last lines are kept, for the error that reports a crash.
 *
 * @example
 * const lines = new StderrLines((l) => console.log(classifyStderrLine(l)));
 * lines.push(Buffer.from('**<MSG> 10 pairs\npartial'));
 * lines.end(); // also delivers "partial"
 */

/** Longest line kept whole; longer ones are delivered in pieces of this size. */
export const MAX_STDERR_LINE = 64 * 1024;
/** Lines kept for crash reports. */
export const STDERR_TAIL_LINES = 20;

/** What one stderr line means. */
export type StderrLine = { kind: 'msg' | 'err' | 'other'; text: string };

/** Classify one line (without its newline). The marker may be followed by a space or not. */
export function classifyStderrLine(line: string): StderrLine {
  if (line.startsWith('**<MSG>')) return { kind: 'msg', text: line.slice(7).trim() };
  if (line.startsWith('**<ERR>')) return { kind: 'err', text: line.slice(7).trim() };
  return { kind: 'other', text: line.replace(/\r$/, '') };
}

/** Splits chunks into lines (UTF-8), keeping the last {@link STDERR_TAIL_LINES}. */
export class StderrLines {
  private partial: Buffer[] = [];
  private partialLength = 0;
  private readonly last: string[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  /** Deliver every line `chunk` completes. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      this.partial.push(chunk.subarray(start, nl));
      this.partialLength += nl - start;
      start = nl + 1;
      this.emit();
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialLength += chunk.length - start;
      if (this.partialLength >= MAX_STDERR_LINE) this.emit();
    }
  }

  /** The program ended: deliver a last line that had no newline. */
  end(): void {
    if (this.partialLength > 0) this.emit();
  }

  /** The last lines seen, oldest first. */
  tail(): string[] {
    return [...this.last];
  }

  private emit(): void {
    const line = Buffer.concat(this.partial, this.partialLength).toString('utf8');
    this.partial = [];
    this.partialLength = 0;
    this.last.push(line);
    if (this.last.length > STDERR_TAIL_LINES) this.last.shift();
    this.onLine(line);
  }
}
