/**
 * The analyses' JSON-ready result types, defined in the protocol layer (src/protocol/analysis.ts) because they cross
 * to the engine host's RPC and the webviews; re-exported here for the engine modules that import them by this path.
 */
export type * from '../../protocol/analysis';
