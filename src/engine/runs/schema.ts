/**
 * The run-file format's types and id helpers, defined in the protocol layer (src/protocol/runFile.ts) because they
 * cross every process boundary; re-exported here for the engine modules that import them by this path.
 */
export * from '../../protocol/runFile';
