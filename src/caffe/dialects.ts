// The dialects' names and words, with no imports: the loader, the CLI's --dialect and the page's Caffe control read
// them from here (the page's bundle pulls in nothing else with them).

/**
 * A Caffe other than BVLC's whose semantics a net was built for, where it changes a BVLC layer (a fork's new layer
 * types need none: they are built in or plugins). 'yolo': the YOLO ports' Caffe (ChenYingpeng/caffe-yolov3,
 * darknet2caffe), whose Pooling adds a row and a column when kernel − stride is odd (darknet's 2 x 2 stride-1 maxpool).
 * 'faceboxes': sfzhang15/FaceBoxes' Caffe, whose PriorBox densifies min_size 32 into 16 boxes and 64 into 4 a cell
 * and sizes the others' square boxes min_size − 1. 'textboxes': MhLiao/TextBoxes' Caffe (the SSD fork of 2016),
 * whose PriorBox follows every box with the same box one cell lower and whose DetectionOutput clips the boxes it
 * writes to the image (and writes one row of -1 when nothing is found). 'hed': FCN's Caffe of 2015, as HED's
 * (s9xie/hed) and CRF-RNN's (torrvision/caffe) built on it, whose Crop has no settings and aligns its bottoms by the
 * layers' coordinate maps (RCF's AutoCrop later), where BVLC's crops at offset 0. 'flownet': lmb-freiburg/flownet2's
 * Caffe (FlowNet 2.0), whose Eltwise takes one bottom (FlowNet2's input scaling, SUM with one coeff); taken by itself
 * for a net with the fork's own layers (Correlation, Correlation1D, FlowWarp, Resample, ChannelNorm, Accum, DataAugmentation).
 */
export type Dialect = 'yolo' | 'faceboxes' | 'textboxes' | 'hed' | 'flownet';

/**
 * Each dialect in the order the CLI and the page list them: `label`, its Caffe as the page's control names it;
 * `changes`, what it changes, as the CLI's --dialect help says.
 */
export const DIALECT_WORDS: Readonly<Record<Dialect, { label: string; changes: string }>> = {
  yolo: { label: 'YOLO ports', changes: "the YOLO ports': a 2 x 2 stride-1 Pooling keeps the plane's size" },
  faceboxes: { label: 'FaceBoxes', changes: "FaceBoxes' dense PriorBox" },
  textboxes: { label: 'TextBoxes', changes: "TextBoxes': each prior box again one cell lower, detections clipped" },
  hed: { label: 'FCN 2015 (HED, CRF-RNN)', changes: "HED's and CRF-RNN's, FCN's of 2015: Crop aligns by the layers' coordinate maps" },
  flownet: { label: 'FlowNet 2.0', changes: "FlowNet 2.0's: Eltwise SUM takes one bottom; taken by itself for its nets" },
};

export const DIALECTS = Object.keys(DIALECT_WORDS) as readonly Dialect[];

/** Whether `value` names a dialect (a string from a control or an option). */
export function isDialect(value: unknown): value is Dialect {
  return typeof value === 'string' && (DIALECTS as readonly string[]).includes(value);
}
