export interface HashLayer {
  name: string;
  type: string;
  blobs: { shape: number[]; data: Float32Array }[];
}
export function hashWeightBlobs(specFile: string, salt: string, gain?: number): HashLayer[];
export function hashInputData(seed: number, amplitude: number, dims: number[]): Float32Array;
