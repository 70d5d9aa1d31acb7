// A crema plugin: the hard swish of the MobileNetV3 ports of Caffe, y = x · ReLU6(x + 3) / 6, which crema does not
// have built in: each port names its type as it pleases (this one is "HSwish"), so a net's own is a plugin's job.
// Load it with `crema run NET W --plugin examples/plugins/hswish.js`, or `registerLayer(hswish)` /
// `Net.load(net, w, { plugins: ['hswish.js'] })` from the library.
//
// A plugin module exports (as `default`, or `layers`) a layer type, or an array of them: the same interface as
// crema's built-in layers (src/layers/layer.ts).
//   type      Caffe's type string, as in the prototxt (`type: "HSwish"`)
//   create    (def, weights) => layer; def is the LayerParameter (snake_case fields, e.g. def.relu_param),
//             weights the layer's blobs from the caffemodel (Tensors: { dims, data: Float32Array })
//   layer     reshape(bottomShapes) => topShapes, and forward(bottoms, tops), which writes the preallocated tops;
//             inPlace: true when forward may write over its input (top named as its bottom)
//   onnx      optional: (c) => void adds the ONNX nodes computing the tops from c.bottom(i), naming each top's
//             value c.top(i) (c.layer.bottomShapes gives the shapes); without it, `crema convert` refuses the layer
// Whatever a plugin throws is reported in one line naming the plugin file and the layer.

export default {
  type: 'HSwish',
  create(def) {
    if (def.bottom?.length !== 1 || def.top?.length !== 1) throw new Error('HSwish takes one bottom and gives one top');
    return {
      inPlace: true, // elementwise: y[i] depends on x[i] only
      reshape: ([shape]) => [shape],
      forward([x], [y]) {
        for (let i = 0; i < x.data.length; i++) {
          const v = x.data[i];
          y.data[i] = (v * Math.min(Math.max(v + 3, 0), 6)) / 6;
        }
      },
    };
  },
  onnx(c) {
    // x · min(max(x + 3, 0), 6) / 6 (Max and Min rather than Clip, whose form changed at opset 11).
    const node = (op, inputs, what) => c.node(op, inputs, [what === 'y' ? c.top(0) : c.tmp(what)]);
    const x = c.bottom(0);
    const relu6 = node('Min', [node('Max', [node('Add', [x, c.b.scalar(3)], 'x_plus_3'), c.b.scalar(0)], 'relu'), c.b.scalar(6)], 'relu6');
    node('Div', [node('Mul', [x, relu6], 'x_relu6'), c.b.scalar(6)], 'y');
  },
};
