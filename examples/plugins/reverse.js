// A crema plugin: the Reverse layer of the Caffe forks that run bidirectional LSTMs (OCR and video nets: the
// second direction reads its sequence backwards), which crema does not have built in: the forks disagree on its
// parameters, so each net's own is a plugin's job. This one has none and reverses axis 0, the time axis T of a
// recurrent net's (T, N, ...) blobs. Load it with `crema run NET W --plugin examples/plugins/reverse.js`, or
// `registerLayer(reverse)` / `Net.load(net, w, { plugins: ['reverse.js'] })` from the library.
//
// A plugin module exports (as `default`, or `layers`) a layer type, or an array of them: the same interface as
// crema's built-in layers (src/layers/layer.ts).
//   type      Caffe's type string, as in the prototxt (`type: "Reverse"`)
//   create    (def, weights) => layer; def is the LayerParameter (snake_case fields, e.g. def.relu_param),
//             weights the layer's blobs from the caffemodel (Tensors: { dims, data: Float32Array })
//   layer     reshape(bottomShapes) => topShapes, and forward(bottoms, tops), which writes the preallocated tops;
//             inPlace: true when forward may write over its input (top named as its bottom)
//   onnx      optional: (c) => void adds the ONNX nodes computing the tops from c.bottom(i), naming each top's
//             value c.top(i) (c.layer.bottomShapes gives the shapes); without it, `crema convert` refuses the layer
// Whatever a plugin throws is reported in one line naming the plugin file and the layer.

export default {
  type: 'Reverse',
  create(def) {
    if (def.bottom?.length !== 1 || def.top?.length !== 1) throw new Error('Reverse takes one bottom and gives one top');
    if (def.top[0] === def.bottom[0]) throw new Error('Reverse cannot work in place');
    return {
      reshape: ([shape]) => [shape],
      forward([x], [y]) {
        // Step t of the top is step T - 1 - t of the bottom.
        const steps = x.dims[0], size = x.data.length / steps;
        for (let t = 0; t < steps; t++) y.data.set(x.data.subarray((steps - 1 - t) * size, (steps - t) * size), t * size);
      },
    };
  },
  onnx(c) {
    // A Slice with step -1 along axis 0, from the last step to before the first.
    const steps = c.layer.bottomShapes[0][0], ints = (what, v) => c.b.int64s(`${c.layer.name}/${what}`, [v]);
    c.node('Slice', [c.bottom(0), ints('starts', -1), ints('ends', -(steps + 1)), ints('axes', 0), ints('steps', -1)], [c.top(0)]);
  },
};
