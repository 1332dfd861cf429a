/** The safetensors format's dtypes and a tensor's place in a file (shared by the reader and the NaN/Inf scan). */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section (as in the header). */
  begin: number;
  end: number;
}

export interface ByteRange {
  /** Absolute path of the .safetensors file. */
  file: string;
  /** Absolute byte offset in the file: 8 + header length + begin. */
  offset: number;
  length: number;
  dtype: SafetensorsDtype;
  shape: number[];
}
