import { paramsOf } from '../caffe/schema.js';
import { fail } from '../onnx/context.js';
import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { checkRois, roiBatch } from './roi_pooling.js';

const f32 = Math.fround;

/**
 * ROIAlign (zhaoweicai/cascade-rcnn's FPN heads; other forks' ROIAlign read a roi_align_param crema does not know):
 * roi_pooling_param's pooled_h x pooled_w bins give a grid of (pooled_h + 1) x (pooled_w + 1) points over the ROI
 * (grown by pad_ratio of its size each side, scaled, shifted half a pixel), each the bilinear interpolation of the
 * features there; a point off the map (beyond half a pixel) and a ROI of no height or width give 0. The nets pool
 * the grid 2 x 2 (AVE, stride 1) after it. Restated from roi_align_layer.cpp, its float arithmetic kept.
 */
export const roiAlignLayer: LayerType = {
  type: 'ROIAlign',
  create(def) {
    const p = paramsOf<{ pooled_h: number; pooled_w: number; spatial_scale: number; pad_ratio: number }>(def, 'roi_pooling_param');
    need(def, p.pooled_h > 0 && p.pooled_w > 0, () => `pooled_h and pooled_w must be positive, got ${p.pooled_h} and ${p.pooled_w}`);
    const scale = f32(p.spatial_scale), pad = f32(p.pad_ratio), ph = p.pooled_h, pw = p.pooled_w, gh = ph + 1, gw = pw + 1;
    return {
      reshape([x, rois]) {
        expectCounts(def, [2, 2], [1, 1]);
        need(def, x.length === 4, () => `needs 4-D features (num, channels, height, width), got ${shapeString(x)}`);
        checkRois(def, rois);
        return [[rois[0], x[1], gh, gw]];
      },
      forward([x, rois], [top]) {
        const [num, channels, height, width] = x.dims, plane = height * width, r = rois.data, y = top.data;
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, r, n, num);
          const [x1, y1, x2, y2] = [r[5 * n + 1], r[5 * n + 2], r[5 * n + 3], r[5 * n + 4]];
          const padW = f32(f32(f32(x2 - x1) + 1) * pad), padH = f32(f32(f32(y2 - y1) + 1) * pad);
          const startW = f32(f32(f32(x1 - padW) * scale) - 0.5), startH = f32(f32(f32(y1 - padH) * scale) - 0.5);
          const endW = f32(f32(f32(x2 + padW) * scale) - 0.5), endH = f32(f32(f32(y2 + padH) * scale) - 0.5);
          const roiH = f32(endH - startH), roiW = f32(endW - startW), binH = f32(roiH / ph), binW = f32(roiW / pw);
          for (let c = 0; c < channels; c++) {
            const xo = (batch * channels + c) * plane, yo = (n * channels + c) * gh * gw;
            for (let i = 0; i <= ph; i++)
              for (let j = 0; j <= pw; j++) {
                let v = 0;
                let hf = f32(startH + f32(i * binH)), wf = f32(startW + f32(j * binW));
                if (roiH > 0 && roiW > 0 && !(hf < -0.5 || hf > height - 0.5 || wf < -0.5 || wf > width - 0.5)) {
                  const clip = (k: number, size: number) => Math.min(Math.max(k, 0), size - 1);
                  let h0 = Math.floor(hf), w0 = Math.floor(wf);
                  const h1 = clip(h0 + 1, height), w1 = clip(w0 + 1, width);
                  hf = Math.min(Math.max(hf, 0), height - 1);
                  wf = Math.min(Math.max(wf, 0), width - 1);
                  h0 = clip(h0, height);
                  w0 = clip(w0, width);
                  const lh = f32(hf - h0), lw = f32(wf - w0), hh = f32(1 - lh), hw = f32(1 - lw);
                  const d = x.data;
                  v = f32(f32(f32(f32(f32(hw * hh) * d[xo + h0 * width + w0]) + f32(f32(lw * hh) * d[xo + h0 * width + w1])) + f32(f32(hw * lh) * d[xo + h1 * width + w0])) + f32(f32(lw * lh) * d[xo + h1 * width + w1]));
                }
                y[yo + i * gw + j] = v;
              }
          }
        }
      },
    };
  },
  onnx: (c) => fail(c, "ROIAlign (cascade-rcnn's grid of (pooled + 1)^2 bilinear points) has no ONNX operator of the same points; crema runs it natively only"),
};
