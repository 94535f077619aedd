/**
 * Names in scope inside a function computation on a node (the original's
 * `dispy_provisional_result`, `dispy_send_file`, `dispy_node_name`, …, in camelCase), plus the
 * tracked timers and `require`. The client rewrites references that a bundler or test runner
 * turned into module accesses (`__vi_import_0__.dispyProvisionalResult`) back into these names.
 */
export const JOB_API_PARAMS = [
  'dispyProvisionalResult',
  'dispySendFile',
  'dispyNodeName',
  'dispyNodeIpAddr',
  'dispyJobPath',
  'dispyJobId',
  'require',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
] as const;

/** The dispy-specific subset (what client code may import for typing). */
export const DISPY_JOB_API_NAMES: ReadonlySet<string> = new Set(
  JOB_API_PARAMS.filter((n) => n.startsWith('dispy')),
);
