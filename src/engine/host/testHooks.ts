/**
 * Test-only hooks (the engine host's engine/debugCrash, the extension's `testing` export) exist only when the
 * test runner sets ORGANISM_LAB_TEST_HOOKS=1 (scripts/test-extension.ts, scripts/test-electron.mjs and the unit
 * tests that need them). A product build, started normally, serves and exports none of them.
 */
export const TEST_HOOKS_ENV = 'ORGANISM_LAB_TEST_HOOKS';

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}
