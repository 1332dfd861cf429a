// Issue 11: in the engine host, a refused input file is an InvalidInput error (message naming file and field,
// no stack trace), not an Internal one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toResponseError } from '../../../../src/engine/host/server';
import { EngineErrorCodes } from '../../../../src/protocol/engineHost';
import { LimitError } from '../../../../src/engine/limits/limits';
import { SafetensorsError } from '../../../../src/engine/checkpoint/safetensors';
import { AdapterError } from '../../../../src/engine/checkpoint/peftAdapter';
import { ModelSpecError } from '../../../../src/engine/checkpoint/modelSpec';
import { NonFiniteLogitsError } from '../../../../src/engine/jobs/promptPreflight';

test('input-file errors reach the extension as InvalidInput without a stack; other errors stay Internal', () => {
  for (const e of [new LimitError('p.yaml:3: question "q" …'), new SafetensorsError('m.safetensors: tensor "w" holds 1 NaN'), new AdapterError('adapter_config.json: "r" …'), new ModelSpecError('config.json: field …'), new NonFiniteLogitsError('NaN logits')]) {
    const r = toResponseError(e);
    assert.equal(r.code, EngineErrorCodes.InvalidInput, e.name);
    assert.equal(r.message, e.message);
    assert.equal((r.data as { stack?: string } | undefined)?.stack, undefined);
  }
  assert.equal(toResponseError(new TypeError('x is undefined')).code, EngineErrorCodes.Internal);
});
