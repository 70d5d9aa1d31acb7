// A crema plugin: the Mish activation, y = x * tanh(softplus(x)), a layer of the Caffe forks that run YOLOv4,
// which crema does not have built in. Load it with `crema run NET W --plugin examples/plugins/mish.js`, or
// `registerLayer(mish)` / `Net.load(net, w, { plugins: ['mish.js'] })` from the library.
//
// A plugin module exports (as `default`, or `layers`) a layer type, or an array of them: the same interface as
// crema's built-in layers (src/layers/layer.ts).
//   type      Caffe's type string, as in the prototxt (`type: "Mish"`)
//   create    (def, weights) => layer; def is the LayerParameter (snake_case fields, e.g. def.relu_param),
//             weights the layer's blobs from the caffemodel (Tensors: { dims, data: Float32Array })
//   layer     reshape(bottomShapes) => topShapes, and forward(bottoms, tops), which writes the preallocated tops;
//             inPlace: true when forward may write over its input (top named as its bottom)
//   onnx      optional: (c) => void adds the ONNX nodes computing the tops from c.bottom(i), naming each top's
//             value c.top(i); without it, `crema convert` refuses the layer by name
// Whatever a plugin throws is reported in one line naming the plugin file and the layer.

/** softplus(x) = log(1 + e^x), computed without overflow for large x. */
const softplus = (x) => (x > 20 ? x : Math.log1p(Math.exp(x)));

export default {
  type: 'Mish',
  create(def) {
    if (def.bottom?.length !== 1 || def.top?.length !== 1) throw new Error('Mish takes one bottom and gives one top');
    return {
      inPlace: true,
      reshape: ([shape]) => [shape],
      forward([x], [y]) {
        const a = x.data, b = y.data;
        for (let i = 0; i < a.length; i++) b[i] = a[i] * Math.tanh(softplus(a[i]));
      },
    };
  },
  onnx(c) {
    const sp = c.node('Softplus', [c.bottom(0)], [c.tmp('softplus')]);
    const t = c.node('Tanh', [sp], [c.tmp('tanh')]);
    c.node('Mul', [c.bottom(0), t], [c.top(0)]);
  },
};
