/**
 * Garbage collection and re-replication (wire spec §5.6). Placeholder: replaced below.
 */
import type { TagServer } from './tag-server.js';

/** The GC as the HTTP API sees it. */
export interface GcService {
  /** `gc_stats`: null before the first finished run. */
  stats(): unknown | null;
  /** `gc_status`: '' when not running, else a phase message. */
  status(): string;
  /** `gc_start`: the reply string. */
  start(): string;
  /** `safe_gc_blacklist`: GC-blacklisted nodes that hold nothing DDFS still needs. */
  safeBlacklist(): string[];
  /** `hosted_tags`: tags with a replica or a blob on `host`. */
  hostedTags(host: string): Promise<string[]>;
  close(): void;
}

export function createGc(tags: TagServer): GcService {
  return {
    stats: () => null,
    status: () => '',
    start: () => 'GC has started',
    safeBlacklist: () => [],
    hostedTags: async () => {
      void tags;
      return [];
    },
    close: () => {},
  };
}
