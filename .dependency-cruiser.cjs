/**
 * The design doc's layering, checked in CI (scripts/test.sh → npm run check:layers):
 *   src/engine     never imports vscode, the extension, webviews or the CLI;
 *   src/webviews   never imports Node built-ins, vscode, the engine or the extension at run time (types from
 *                  protocol/ only);
 *   src/protocol   never imports vscode, the extension or webviews, and the engine only for types;
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
      comment: 'src/protocol is shared by both sides of each boundary: no vscode, no extension or webview code, engine types only.',
      from: { path: '^src/protocol/' },
      to: { path: '^(src/extension/|src/webviews/|src/cli/)|^vscode$|node_modules/@types/vscode/' },
    },
    {
      name: 'protocol-engine-types-only',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/engine/', dependencyTypesNot: ['type-only'] },
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
