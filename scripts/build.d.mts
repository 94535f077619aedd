// Types of what scripts/build.mjs exports (for the tests that check the builds).
import type { BuildOptions, Metafile } from 'esbuild';

export declare const splitBuild: BuildOptions & { metafile: true };
export declare const ddfsBuild: BuildOptions & { metafile: true };
export declare const workerBuild: BuildOptions & { metafile: true };

/** What loading an output file loads before any code runs (paths relative to the package root). */
export interface StartupGraph {
  /** Output files of its static import graph. */
  files: string[];
  /** Sources those files hold. */
  sources: string[];
  /** Packages they import. */
  packages: string[];
}

export declare function startupGraph(metafile: Metafile, output: string): StartupGraph;
