/**
 * The tool's version, from package.json. A JSON import: esbuild inlines the one field into dist/ bundles
 * (its JSON loader tree-shakes named imports), tsx and tsc read it from the file.
 */
import { version } from '../../package.json';

export const TOOL_VERSION: string = version;
