/** Names of the decoder graph's inputs and outputs that callers feed and read (see ./decoderGraph for their shapes). */

export const loraInputName = (layer: number, module: string, part: 'A' | 'B' | 'scale'): string => `lora.${layer}.${module}.${part}`;
export const steerInputName = (layer: number): string => `steer.${layer}`;
export const ablateInputName = (layer: number): string => `ablate.${layer}`;
export const pastName = (layer: number, kv: 'key' | 'value'): string => `past_key_values.${layer}.${kv}`;
/** The S new key/value columns of a forward (appended to the cache by the caller). */
export const newKvName = (layer: number, kv: 'key' | 'value'): string => `new_key_values.${layer}.${kv}`;
export const hiddenName = (i: number): string => `hidden_states.${i}`;
