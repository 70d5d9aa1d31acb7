import type { Argv } from 'yargs';

/** What a command module exports: its options (yargs' builder) and what it does. */
export interface CommandModule {
  builder: (y: Argv) => Argv<unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (args: any) => void | Promise<void>;
}

/**
 * A command as `crema --help` lists it. Its module (options and handler) is imported only when the command is
 * named: `crema --help` and `crema info` never load what `run`, `verify` or `draw` need (startup time).
 */
export interface CremaCommand {
  command: string;
  describe: string;
  load: () => Promise<CommandModule>;
}

// One line per command.
export const commands: CremaCommand[] = [
  { command: 'bench <net> [weights]', describe: 'Time a model\'s forward pass, layer by layer (like `caffe time`), natively and/or in ONNX Runtime', load: async () => (await import('./bench.js')).benchCommand },
  { command: 'classify <net> <weights> <images..>', describe: 'Classify images (files or directories): each image\'s top classes with probabilities', load: async () => (await import('./classify.js')).classifyCommand },
  { command: 'colorize <net> <weights> <images..>', describe: 'Colorize photos with the colorization net (Zhang et al. 2016), as its authors\' demo does: PNGs in -o DIR', load: async () => (await import('./colorize.js')).colorizeCommand },
  { command: 'convert <net> [weights]', describe: 'Convert a Caffe model to ONNX, with Caffe\'s exact semantics (runs in ONNX Runtime)', load: async () => (await import('./convert.js')).convertCommand },
  { command: 'detect <net> <weights> <images..>', describe: 'Detect objects with an SSD- or YOLO-style net (ending in DetectionOutput, YoloDetectionOutput or Yolov3DetectionOutput), py-faster-rcnn\'s Faster R-CNN, py-R-FCN or SSH\'s face detector: boxes in image pixels, optionally drawn', load: async () => (await import('./detect.js')).detectCommand },
  { command: 'disparity <template> <weights> <left> <right>', describe: 'Stereo disparity with DispNet or DispNetCorr1D from a left and a right image, as its demo.py computes it: a PFM (-o) as its PFMWriter writes it, and a gray picture (--png)', load: async () => (await import('./disparity.js')).disparityCommand },
  { command: 'draw <net>', describe: 'Draw a net\'s layer graph as Caffe\'s draw_net.py does: .dot (Graphviz), .svg or .png', load: async () => (await import('./draw.js')).drawCommand },
  { command: 'edges <net> <weights> <images..>', describe: 'Edge maps with HED or RCF, as their authors\' demos compute and save them: PNGs in -o DIR', load: async () => (await import('./edges.js')).edgesCommand },
  { command: 'faces <dir> <images..>', describe: 'Find faces and their five landmarks with MTCNN (its model directory: det1, det2, det3), as its authors\' MATLAB demo does', load: async () => (await import('./faces.js')).facesCommand },
  { command: 'flow <template> <weights> [img0] [img1]', describe: 'Optical flow with FlowNet 2.0 between two images, as its run-flownet.py computes it: a Middlebury .flo (-o) and its colour picture (--png); many pairs with --list, as run-flownet-many.py', load: async () => (await import('./flow.js')).flowCommand },
  { command: 'info <net> [weights]', describe: 'Show a net\'s layers, blob shapes, parameter counts and multiply-adds', load: async () => (await import('./info.js')).infoCommand },
  { command: 'pose <net> <weights> <images..>', describe: 'Find people and their body keypoints with an OpenPose net (BODY_25, COCO, MPI, BODY_25B, BODY_135), as OpenPose computes them', load: async () => (await import('./pose.js')).poseCommand },
  { command: 'run <net> [weights]', describe: 'Run a Caffe model: print its outputs (top classes for a classifier) and dump blobs as .npy', load: async () => (await import('./run.js')).runCommand },
  { command: 'segment <net> <weights> <images..>', describe: 'Label each pixel with an FCN net (semantic segmentation), as FCN\'s infer.py does: the classes present, PNGs in PASCAL VOC\'s colours', load: async () => (await import('./segment.js')).segmentCommand },
  { command: 'show <net> <weights>', describe: 'Picture blobs (channels tiled in a grid) and layers\' filters as PNGs, as pycaffe\'s vis_square', load: async () => (await import('./show.js')).showCommand },
  { command: 'ui', describe: 'Serve the web page (look inside a model, in the browser) on 127.0.0.1', load: async () => (await import('./ui.js')).uiCommand },
  { command: 'upgrade <in> <out>', describe: 'Rewrite a V0/V1 .prototxt or .caffemodel in the current (V2) format, as Caffe\'s upgrade_net_proto_* tools do', load: async () => (await import('./upgrade.js')).upgradeCommand },
  { command: 'verify <net> [weights]', describe: 'Run the native engine and ONNX Runtime on the same input and compare every blob (and with a reference dump)', load: async () => (await import('./verify.js')).verifyCommand },
];
