/**
 * The names a computation can use on a node, declared here so that TypeScript code can import
 * them for typing: `import { dispyProvisionalResult } from 'disco-ts'`. On the node these names
 * are provided to the computation (the client turns imported references back into the plain
 * names); called anywhere else, these stubs throw.
 *
 * @example
 * async function compute(n: number) {
 *   for (let i = 0; i < n; i++) await dispyProvisionalResult(i);
 *   await dispySendFile('out.dat');
 *   return `${dispyNodeName} done`;
 * }
 */
function outside(name: string): never {
  throw new Error(`${name} is only available inside a dispy computation running on a node`);
}

/** Send an intermediate result to the client (its `callback` sees status `ProvisionalResult`). 0 = sent. */
export function dispyProvisionalResult(_result: unknown): Promise<number> {
  return outside('dispyProvisionalResult');
}

/** Send a file (relative to the job's directory) to the client; 0 = saved there, -1 = failed. */
export function dispySendFile(_path: string): Promise<number> {
  return outside('dispySendFile');
}

/** The node's name (inside a computation; empty elsewhere). */
export const dispyNodeName: string = '';
/** The node's address (inside a computation; empty elsewhere). */
export const dispyNodeIpAddr: string = '';
/** The computation's directory on the node, the job's working directory (inside a computation). */
export const dispyJobPath: string = '';
/** The job's number within its computation (inside a computation; -1 elsewhere). */
export const dispyJobId: number = -1;
