/**
 * The design doc's layering, checked in CI (scripts/test.sh → npm run check:layers):
 *   src/engine     never imports vscode, the extension, webviews or the CLI;
 *   src/webviews   never imports Node built-ins, vscode, the engine or the extension at run time (types from
 *                  protocol/ only);
 *   src/protocol   is the leaf: it imports nothing else of src/ (not even types) and no Node built-ins;
 *   src/cli        never imports vscode or the extension;
 *   no import cycles, type-only ones included.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'engine-is-editor-free',
      severity: 'error',
      comment: 'src/engine runs in the engine host and the CLI: no vscode, no extension, webview or CLI code.',
      from: { path: '^src/engine/' },
      to: { path: '^(src/extension/|src/webviews/|src/cli/)|^vscode$|node_modules/@types/vscode/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'engine-no-vscode-types',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^vscode$|node_modules/@types/vscode/|^src/extension/' },
    },
    {
      name: 'webviews-are-browser-code',
      severity: 'error',
      comment: 'Webview code runs in the browser: no Node built-ins, no vscode, no engine or extension code; data types come from src/protocol.',
      from: { path: '^src/webviews/' },
      to: { path: '^(src/engine/|src/extension/|src/cli/)|^vscode$|node_modules/@types/vscode/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'webviews-no-node',
      severity: 'error',
      from: { path: '^src/webviews/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'webviews-types-from-protocol',
      severity: 'error',
      comment: 'Even types: a webview takes its data shapes from src/protocol (GitLens-style protocol files).',
      from: { path: '^src/webviews/' },
      to: { path: '^(src/engine/|src/extension/)' },
    },
    {
      name: 'protocol-is-a-leaf',
      severity: 'error',
      comment:
        'src/protocol owns the data that crosses processes and is shared by both sides of each boundary: it imports ' +
        'nothing outside src/protocol (type-only imports included: no dependencyTypesNot here, and tsPreCompilationDeps ' +
        'keeps `import type` in the graph), no vscode and no Node built-ins (webview bundles include it).',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'protocol-no-vscode-no-node',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^vscode$|node_modules/@types/vscode/' },
    },
    {
      name: 'protocol-no-node-builtins',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'cli-is-editor-free',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^(src/extension/|src/webviews/)|^vscode$|node_modules/@types/vscode/' },
    },
    {
      name: 'engine-client-is-vscode-free',
      severity: 'error',
      comment: 'The engine host client (the extension side of the RPC) is also driven by the editor-path bench (src/bench/editorPath.ts), outside VS Code: no vscode import.',
      from: { path: '^src/extension/engine/client\\.ts$' },
      to: { path: '^vscode$|node_modules/@types/vscode/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles (type-only ones included) tie modules that should be layered.',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
