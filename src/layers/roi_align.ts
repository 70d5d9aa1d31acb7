import { fail } from '../onnx/context.js';
import type { LayerType } from './layer.js';
import { paddedRoi, roiBatch, roiPoolingParams, roiTop } from './roi_pooling.js';

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
    const { scale, pad, ph, pw } = roiPoolingParams(def), gh = ph + 1, gw = pw + 1;
    return {
      reshape: ([x, rois]) => [roiTop(def, x, rois, gh, gw)],
      forward([x, rois], [top]) {
        const [num, channels, height, width] = x.dims, plane = height * width, r = rois.data, y = top.data;
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, r, n, num);
          const [startW, startH, endW, endH] = paddedRoi(r, n, pad).map((v) => f32(f32(v * scale) - 0.5));
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
