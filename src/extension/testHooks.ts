/**
 * The extension's test-only exports (no vscode import: unit tested). activate() returns `testing` only when
 * ORGANISM_LAB_TEST_HOOKS=1, which only the test runners set.
 */
import { testHooksEnabled } from '../engine/host/testHooks';

/** `api` plus `testing: hooks()` when test hooks are on; `api` alone (no `testing` key at all) otherwise. */
export function withTestHooks<A extends object, H>(api: A, hooks: () => H, env: NodeJS.ProcessEnv = process.env): A & { testing?: H } {
  return testHooksEnabled(env) ? { ...api, testing: hooks() } : api;
}
