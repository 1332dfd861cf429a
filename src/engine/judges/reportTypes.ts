/**
 * The Run report's data types, defined in the protocol layer (src/protocol/reportData.ts) because they cross to the
 * webviews; re-exported here for the engine modules that import them by this path.
 */
export * from '../../protocol/reportData';
