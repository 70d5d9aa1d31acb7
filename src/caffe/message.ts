// A caffe.proto message as the readers produce it (see types.ts), its fields loosely typed for the code that reads
// and upgrades them. Internal: the public types (LayerParameter, NetParameter) give unknown fields as `unknown`.

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Message = Record<string, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */
